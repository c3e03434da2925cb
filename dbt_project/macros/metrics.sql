{#-
  The ratios the marts and the reporting views share, defined once.

  opt_out_rate: detected opt-outs per opted-in user-day (the daily risk; over a range, the
  range's opt-outs over the sum of its daily bases). Null without a base.
-#}
{% macro opt_out_rate(opt_outs, opted_in_base) -%}
    {{ share_of(opt_outs, opted_in_base) }}
{%- endmacro %}

{#- part / whole as a double; null when the whole is 0 or null. -#}
{% macro share_of(part, whole) -%}
    case
        when {{ whole }} > 0
            then cast({{ part }} as {{ type_double() }}) / {{ whole }}
    end
{%- endmacro %}

{#-
  The date range a reporting view covers, [start, end]: set per session by the reader
  (assets/report/numbers.py) as the variables optout_range_start / optout_range_end, so one
  view serves any range without being rebuilt. Unset, the views are empty.
-#}
{% macro report_range_start() -%}
    {{ return(adapter.dispatch('report_range_variable', 'optout')('optout_range_start')) }}
{%- endmacro %}

{% macro report_range_end() -%}
    {{ return(adapter.dispatch('report_range_variable', 'optout')('optout_range_end')) }}
{%- endmacro %}

{% macro default__report_range_variable(name) -%}
    cast(getvariable('{{ name }}') as date)
{%- endmacro %}

{#- Joins the reporting range: rows whose `date_column` lies in the range (or in the period before it). -#}
{% macro in_report_range(date_column, period='range') -%}
    inner join {{ ref('rpt_range') }} as range_
        on {{ date_column }} between range_.{{ period }}_start and range_.{{ period }}_end
{%- endmacro %}

{#- A user's platform as the marts report it: `unknown` without a profile (seeds/platforms.csv). -#}
{% macro platform_or_unknown(platform_column) -%}
    coalesce({{ platform_column }}, 'unknown')
{%- endmacro %}

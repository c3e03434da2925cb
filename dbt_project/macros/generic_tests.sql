{#- Generic tests written here so the project needs no package download. -#}

{% test unique_combination(model, columns) %}
select {{ columns | join(', ') }}
from {{ model }}
group by {{ columns | join(', ') }}
having count(*) > 1
{% endtest %}

{% test reconciles(model, total, parts) %}
select *
from {{ model }}
where {{ total }} <> {{ parts | join(' + ') }}
{% endtest %}

{#- Every value within [min_value, max_value] (no upper bound without max_value); nulls pass. -#}
{% test between(model, column_name, min_value, max_value=none) %}
select *
from {{ model }}
where
    {{ column_name }} < {{ min_value }}
    {%- if max_value is not none %}
    or {{ column_name }} > {{ max_value }}
    {%- endif %}
{% endtest %}

{#- Every value no later than `than`, another column of the same row (nulls pass). -#}
{% test not_after(model, column_name, than) %}
select *
from {{ model }}
where {{ column_name }} > {{ than }}
{% endtest %}

{#- Every non-null value is one of the rows of `to` (a seed list) that satisfy `to_where`. -#}
{% test listed_in(model, column_name, to, field, to_where='1 = 1') %}
select {{ column_name }}
from {{ model }}
where
    {{ column_name }} is not null
    and {{ column_name }} not in (select {{ field }} from {{ to }} where {{ to_where }})
{% endtest %}

{#- The facts the singular tests reconcile the marts against: opt-outs per day and platform. -#}
{% macro opt_outs_per_day_and_platform() -%}
    select
        opt_out_date,
        platform,
        count(*) as opt_outs
    from {{ ref('fct_opt_outs') }}
    group by opt_out_date, platform
{%- endmacro %}

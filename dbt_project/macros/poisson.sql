{#-
  The one-sided Poisson test of the alert marts: per `key` of `relation` (columns
  `observed_count`, an integer, and `expected`, a rate), the chance of seeing at least the
  observed count if only the expected rate were at work:

      p_value = P(N >= k) = 1 - sum over i < k of exp(-expected) * expected^i / i!

  Each term is computed in log space (log i! as a running sum of log j over the portable
  `day_numbers` series), so large counts and rates neither overflow nor underflow; the sum
  is exact to about 1e-15, far below the thresholds it is compared with, and is taken in the
  order of i, so a rebuild gives the same p-value to the last bit. k = 0 gives 1; an
  expected rate of 0 gives 0 for any k > 0 (something happened that should not have).
-#}
{% macro poisson_p_values(relation, key) -%}
    with terms as (
        select
            tested.{{ key }},
            tested.expected,
            numbers.day_number as i,
            sum(case when numbers.day_number = 0 then 0.0 else ln(numbers.day_number) end) over (
                partition by tested.{{ key }}
                order by numbers.day_number
                rows between unbounded preceding and current row
            ) as log_factorial
        from {{ relation }} as tested
        inner join ({{ day_numbers() }}) as numbers
            on numbers.day_number < tested.observed_count
        where tested.expected > 0
    ),

    below as (
        -- a running sum in the order of i, read at the last term: the same total whatever the
        -- order the rows arrive in (a plain sum of doubles is not)
        select
            {{ key }},
            sum(exp(-expected + i * ln(expected) - log_factorial)) over (
                partition by {{ key }}
                order by i
                rows between unbounded preceding and current row
            ) as probability_below,
            row_number() over (partition by {{ key }} order by i desc) as from_last
        from terms
    )

    select
        tested.{{ key }},
        case
            when tested.observed_count <= 0 then 1.0
            when tested.expected is null then null
            when tested.expected <= 0 then 0.0
            when 1.0 - below.probability_below < 0 then 0.0
            else 1.0 - below.probability_below
        end as p_value
    from {{ relation }} as tested
    left join below
        on tested.{{ key }} = below.{{ key }} and below.from_last = 1
{%- endmacro %}

{#- The alert rule both alert marts share (dbt vars alert_max_p_value, alert_min_ratio, alert_min_opt_outs). -#}
{% macro is_alert(observed, expected, p_value) -%}
    coalesce(
        {{ p_value }} < {{ var('alert_max_p_value') }}
        and {{ observed }} >= {{ var('alert_min_ratio') }} * {{ expected }}
        and {{ observed }} >= {{ var('alert_min_opt_outs') }},
        false
    )
{%- endmacro %}

{#- The verdict columns both alert marts end with: expected count, ratio, p-value, is_alert. -#}
{% macro alert_verdict(observed, expected, p_value) -%}
    {{ expected }} as expected_opt_outs,
    case when {{ expected }} > 0 then {{ observed }} / {{ expected }} end as ratio,
    {{ p_value }} as p_value,
    {{ is_alert(observed, expected, p_value) }} as is_alert
{%- endmacro %}

{{ incremental_config('date') }}
-- The pressure of users who stayed: each covered day's opted-in base, bucketed by the pushes
-- delivered to them in (day 00:00 - pressure_lookback_days, day 00:00].
{%- set pressure_days = var('pressure_lookback_days') %}

with base_users as (
    select
        date,
        user_id,
        platform
    from {{ ref('int_opted_in_base_days') }}
),

deliveries as (
    -- a delivery at t counts for the days d with d - lookback < t <= d: from the first
    -- midnight at or after t, for `pressure_lookback_days` days
    select
        user_id,
        case
            when occurred_at = {{ day_start('cast(occurred_at as date)') }} then cast(occurred_at as date)
            else cast({{ days_after(day_start('cast(occurred_at as date)'), 1) }} as date)
        end as first_counting_date
    from {{ ref('stg_lake__messages') }}
    where
        event_type = 'delivered'
        and occurred_at > {{ days_before(day_start(build_horizon('first_mart_day')), pressure_days) }}
),

offsets as (
    {% for offset in range(pressure_days) -%}
        select {{ offset }} as day_offset
        {% if not loop.last %}union all{% endif %}
    {% endfor %}
),

deliveries_per_day as (
    select
        deliveries.user_id,
        cast({{ dbt.dateadd('day', 'offsets.day_offset', day_start('deliveries.first_counting_date')) }} as date)
            as date,
        count(*) as deliveries
    from deliveries
    cross join offsets
    group by
        deliveries.user_id,
        cast({{ dbt.dateadd('day', 'offsets.day_offset', day_start('deliveries.first_counting_date')) }} as date)
),

pressure as (
    select
        base_users.date,
        base_users.platform,
        coalesce(deliveries_per_day.deliveries, 0) as pushes_received
    from base_users
    left join deliveries_per_day
        on
            base_users.user_id = deliveries_per_day.user_id
            and base_users.date = deliveries_per_day.date
)

{{ count_by_pressure_bucket('pressure', 'date', 'pushes_received', 'opted_in_users') }}

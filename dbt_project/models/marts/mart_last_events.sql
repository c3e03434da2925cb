-- "Events in last (x) days" before opt-out, per opt-out day, platform, lookback, status, event.
{{ incremental_config('opt_out_date') }}

select
    opt_out_date,
    platform,
    lookback_days,
    status,
    event_name,
    cast(sum(event_count) as {{ dbt.type_bigint() }}) as total_events,
    count(distinct user_id) as unique_users
from {{ ref('fct_opt_out_last_events') }}
where opt_out_date >= {{ build_horizon('rebuild_from') }}
group by opt_out_date, platform, lookback_days, status, event_name

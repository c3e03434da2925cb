-- "Events in last (x) days" before the range's opt-outs, per lookback and event name: the
-- events and the users (each counted once over the whole range), ranked within the lookback.
with events as (
    select
        last_events.lookback_days,
        last_events.event_name,
        cast(sum(last_events.event_count) as {{ dbt.type_bigint() }}) as total_events,
        count(distinct last_events.user_id) as unique_users
    from {{ ref('fct_opt_out_last_events') }} as last_events
    {{ in_report_range('last_events.opt_out_date') }}
    group by last_events.lookback_days, last_events.event_name
)

select
    lookback_days,
    event_name,
    total_events,
    unique_users,
    row_number() over (
        partition by lookback_days order by total_events desc, event_name asc
    ) as event_rank
from events

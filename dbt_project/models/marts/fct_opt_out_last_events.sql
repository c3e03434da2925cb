{{ incremental_config('opt_out_date') }}
-- The app events of each opt-out's user in (window_start - x, window_start], per lookback x
-- and event name; an opt-out without such events has no row.

with activity as (
    select * from {{ ref('int_opt_out_activity') }}
    where
        opt_out_date >= {{ build_horizon('rebuild_from') }}
        and lookback_days in ({{ var('last_events_lookbacks') | join(', ') }})
),

events as (
    select
        activity.opt_out_id,
        activity.lookback_days,
        app_events.event_name,
        count(*) as event_count
    from activity
    inner join {{ ref('stg_lake__app_events') }} as app_events
        on
            activity.user_id = app_events.user_id
            and activity.window_start >= app_events.occurred_at
            and app_events.occurred_at > {{ dbt.dateadd('day', '-1 * activity.lookback_days', 'activity.window_start') }}
    group by activity.opt_out_id, activity.lookback_days, app_events.event_name
)

select
    events.opt_out_id,
    events.lookback_days,
    events.event_name,
    activity.user_id,
    activity.opt_out_date,
    activity.platform,
    activity.status,
    events.event_count
from events
inner join activity
    on events.opt_out_id = activity.opt_out_id and events.lookback_days = activity.lookback_days

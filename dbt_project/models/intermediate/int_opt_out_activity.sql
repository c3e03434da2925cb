{{ incremental_config('opt_out_date') }}
-- For each opt-out and each activity lookback x (activity_window_days and every one of
-- last_events_lookbacks): retain if the user has an app event in (window_start,
-- window_start + x], pending while window_start + x is after as_of, churn otherwise. The one
-- place this rule lives; a build rebuilds it from its horizon on.

with opt_outs as (
    select
        opt_out_id,
        user_id,
        opt_out_date,
        platform,
        window_start
    from {{ ref('int_opt_outs_windowed') }}
    where opt_out_date >= {{ build_horizon('rebuild_from') }}
),

clock as (
    select as_of from {{ ref('int_export_days_covered') }}
),

lookbacks as (
    {% for days in activity_lookbacks() -%}
        select {{ days }} as lookback_days
        {% if not loop.last %}union all{% endif %}
    {% endfor %}
),

opt_out_lookbacks as (
    select
        opt_outs.*,
        lookbacks.lookback_days
    from opt_outs
    cross join lookbacks
),

retained as (
    select distinct
        opt_out_lookbacks.opt_out_id,
        opt_out_lookbacks.lookback_days
    from opt_out_lookbacks
    inner join {{ ref('stg_lake__app_events') }} as app_events
        on
            opt_out_lookbacks.user_id = app_events.user_id
            and opt_out_lookbacks.window_start < app_events.occurred_at
            and app_events.occurred_at
            <= {{ days_after('opt_out_lookbacks.window_start', 'opt_out_lookbacks.lookback_days') }}
)

select
    opt_out_lookbacks.opt_out_id,
    opt_out_lookbacks.user_id,
    opt_out_lookbacks.opt_out_date,
    opt_out_lookbacks.platform,
    opt_out_lookbacks.window_start,
    opt_out_lookbacks.lookback_days,
    case
        when retained.opt_out_id is not null then 'retain'
        when
            {{ days_after('opt_out_lookbacks.window_start', 'opt_out_lookbacks.lookback_days') }}
            > clock.as_of
            then 'pending'
        else 'churn'
    end as status
from opt_out_lookbacks
cross join clock
left join retained
    on
        opt_out_lookbacks.opt_out_id = retained.opt_out_id
        and opt_out_lookbacks.lookback_days = retained.lookback_days

{{ incremental_config('opt_out_date') }}
-- Every opt-out with the user's platform and browser and the detection window; a build
-- rebuilds those from its horizon on. A lagged opt-out (send_feedback, revisit) happened
-- somewhere in [window_start, opted_out_at].
{%- set lag_days = var('max_detection_lag_days') %}

with opt_outs as (
    select *
    from {{ ref('int_subscription_events_sequenced') }}
    where
        is_opt_out
        and occurred_at >= {{ day_start(build_horizon('rebuild_from')) }}
),

engagement as (
    select
        user_id,
        occurred_at
    from {{ ref('stg_lake__messages') }}
    where
        event_type in ('delivered', 'opened')
        and occurred_at >= {{ days_before(day_start(build_horizon('rebuild_from')), lag_days) }}
),

last_engagement as (
    select
        opt_outs.event_id as opt_out_id,
        max(engagement.occurred_at) as last_engaged_at
    from opt_outs
    inner join engagement
        on
            opt_outs.user_id = engagement.user_id
            and opt_outs.occurred_at > engagement.occurred_at
            and engagement.occurred_at >= {{ days_before('opt_outs.occurred_at', lag_days) }}
    where opt_outs.detected_via in ('send_feedback', 'revisit')
    group by opt_outs.event_id
),

with_window as (
    select
        opt_outs.event_id as opt_out_id,
        opt_outs.user_id,
        {{ platform_or_unknown('users.platform') }} as platform,
        users.browser,
        opt_outs.occurred_at as opted_out_at,
        cast(opt_outs.occurred_at as date) as opt_out_date,
        opt_outs.source,
        opt_outs.detected_via,
        opt_outs.opted_in_at,
        opt_outs.detected_via in ('send_feedback', 'revisit') as is_lagged,
        {{ days_before('opt_outs.occurred_at', lag_days) }} as detection_cap,
        last_engagement.last_engaged_at,
        case when opt_outs.detected_via = 'send_feedback' then opt_outs.campaign_id end as revealing_campaign_id
    from opt_outs
    left join {{ ref('int_users_latest') }} as users
        on opt_outs.user_id = users.user_id
    left join last_engagement
        on opt_outs.event_id = last_engagement.opt_out_id
)

select
    opt_out_id,
    user_id,
    platform,
    browser,
    opted_out_at,
    opt_out_date,
    source,
    detected_via,
    opted_in_at,
    is_lagged,
    case
        when is_lagged
            then greatest(
                coalesce(opted_in_at, detection_cap),
                coalesce(last_engaged_at, detection_cap),
                detection_cap
            )
        else opted_out_at
    end as window_start,
    revealing_campaign_id
from with_window

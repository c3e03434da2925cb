{{ incremental_config('opt_out_date') }}
{{ config(post_hook="{{ refresh_external_ids() }}") }}
-- One row per opt-out, with its window, the pressure and campaigns before it, and whether
-- the user stayed active after it (docs/metrics.md, marts.fct_opt_outs).
{%- set pressure_days = var('pressure_lookback_days') %}
{%- set attribution_days = var('attribution_window_days') %}
{%- set reach_back = [pressure_days, attribution_days] | max %}

with opt_outs as (
    select * from {{ ref('int_opt_outs_windowed') }}
    where opt_out_date >= {{ build_horizon('rebuild_from') }}
),

clock as (
    select as_of from {{ ref('int_export_days_covered') }}
),

engagement_before as (
    -- deliveries and opens in the longest look-back before each window start
    select
        opt_outs.opt_out_id,
        opt_outs.window_start,
        messages.event_id,
        messages.event_type,
        messages.campaign_id,
        messages.occurred_at
    from opt_outs
    inner join {{ ref('stg_lake__messages') }} as messages
        on
            opt_outs.user_id = messages.user_id
            and messages.event_type in ('delivered', 'opened')
            and opt_outs.window_start >= messages.occurred_at
            and messages.occurred_at > {{ days_before('opt_outs.window_start', reach_back) }}
),

pressure as (
    select
        opt_out_id,
        count(*) as pushes_received
    from engagement_before
    where
        event_type = 'delivered'
        and occurred_at > {{ days_before('window_start', pressure_days) }}
    group by opt_out_id
),

last_touch as (
    select
        opt_out_id,
        event_type,
        campaign_id,
        occurred_at,
        row_number() over (
            partition by opt_out_id, event_type order by occurred_at desc, event_id desc
        ) as recency_rank
    from engagement_before
    where occurred_at > {{ days_before('window_start', attribution_days) }}
),

activity as (
    select
        opt_out_id,
        status
    from {{ ref('int_opt_out_activity') }}
    where
        opt_out_date >= {{ build_horizon('rebuild_from') }}
        and lookback_days = {{ var('activity_window_days') }}
)

select
    opt_outs.opt_out_id,
    opt_outs.user_id,
    users.external_id,
    opt_outs.platform,
    opt_outs.browser,
    opt_outs.opted_out_at,
    opt_outs.opt_out_date,
    opt_outs.source,
    opt_outs.detected_via,
    opt_outs.opted_in_at,
    opt_outs.is_lagged,
    opt_outs.window_start,
    opt_outs.revealing_campaign_id,
    coalesce(pressure.pushes_received, 0) as pushes_received,
    last_received.campaign_id as last_received_campaign_id,
    last_received.occurred_at as last_received_at,
    last_opened.campaign_id as last_opened_campaign_id,
    last_opened.occurred_at as last_opened_at,
    activity.status as activity_status,
    clock.as_of
from opt_outs
cross join clock
left join pressure
    on opt_outs.opt_out_id = pressure.opt_out_id
left join last_touch as last_received
    on
        opt_outs.opt_out_id = last_received.opt_out_id
        and last_received.event_type = 'delivered'
        and last_received.recency_rank = 1
left join last_touch as last_opened
    on
        opt_outs.opt_out_id = last_opened.opt_out_id
        and last_opened.event_type = 'opened'
        and last_opened.recency_rank = 1
left join activity
    on opt_outs.opt_out_id = activity.opt_out_id
left join {{ ref('int_users_latest') }} as users
    on opt_outs.user_id = users.user_id

{{ incremental_config('delivered_date') }}
{{ config(post_hook="{{ refresh_platforms() }}") }}
-- Every delivery as an exposure: how long the campaign stayed the recipient's last delivery
-- (the time an opt-out would be attributed to it) and at which pressure it reached them.
--   pushes_received: the user's deliveries in (delivered_at - pressure_lookback_days,
--     delivered_at], this one included (the pressure an opt-out right after it would have);
--   exposure_days: from delivered_at until the first of: the user's next delivery,
--     delivered_at + attribution_window_days, the user's next opt-out as detected (until
--     then the opted-in base counts the user too), and as_of.
-- Incremental: the deliveries from the build horizon on are rebuilt (int_build_horizon), with
-- the look-back before it for their pressure. An earlier delivery cannot change: its
-- exposure ends at most attribution_window_days after it, before anything a build adds (the
-- horizon reaches back further than that). Its platform is the user's current one
-- (post-hook, as fct_opt_outs does with external ids).
{%- set lookback_microseconds = var('pressure_lookback_days') * 86400 * 1000000 - 1 %}

with deliveries as (
    select
        event_id,
        user_id,
        campaign_id,
        occurred_at as delivered_at
    from {{ ref('stg_lake__messages') }}
    where
        event_type = 'delivered'
        and occurred_at > {{ days_before(day_start(build_horizon('rebuild_from')), var('pressure_lookback_days')) }}
),

sequenced as (
    select
        event_id,
        user_id,
        campaign_id,
        delivered_at,
        -- ties: the larger event id is the later delivery, as in the attribution
        lead(delivered_at) over (partition by user_id order by delivered_at, event_id) as next_delivered_at,
        count(*) over (
            partition by user_id
            order by delivered_at
            range between interval {{ lookback_microseconds }} microseconds preceding and current row
        ) as pushes_received
    from deliveries
),

next_opt_out as (
    select
        sequenced.event_id,
        min(opt_outs.opted_out_at) as next_opted_out_at
    from sequenced
    inner join {{ ref('int_opt_outs_windowed') }} as opt_outs
        on
            sequenced.user_id = opt_outs.user_id
            and sequenced.delivered_at <= opt_outs.opted_out_at
    group by sequenced.event_id
),

ends as (
    select
        sequenced.event_id,
        sequenced.user_id,
        sequenced.campaign_id,
        sequenced.delivered_at,
        sequenced.pushes_received,
        least(
            coalesce(sequenced.next_delivered_at, covered.as_of),
            coalesce(next_opt_out.next_opted_out_at, covered.as_of),
            {{ days_after('sequenced.delivered_at', var('attribution_window_days')) }},
            covered.as_of
        ) as exposure_end
    from sequenced
    left join next_opt_out
        on sequenced.event_id = next_opt_out.event_id
    cross join {{ ref('int_export_days_covered') }} as covered
)

select
    ends.event_id,
    ends.user_id,
    {{ platform_or_unknown('users.platform') }} as platform,
    ends.campaign_id,
    ends.delivered_at,
    cast(ends.delivered_at as date) as delivered_date,
    ends.pushes_received,
    {{ pressure_bucket_order('ends.pushes_received') }} as bucket_order,
    case
        when ends.exposure_end > ends.delivered_at
            -- a double on every engine (Spark would keep a decimal of a bigint over a literal)
            then
                cast({{ microseconds_between('ends.delivered_at', 'ends.exposure_end') }} as {{ type_double() }})
                / 86400000000.0
        else 0.0
    end as exposure_days
from ends
left join {{ ref('int_users_latest') }} as users
    on ends.user_id = users.user_id
where cast(ends.delivered_at as date) >= {{ build_horizon('rebuild_from') }}

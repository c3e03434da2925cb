{{ config(materialized='table') }}
-- Early warning, per campaign with recipients: did more of its recipients opt out while it
-- was their last delivery than the baseline risk at their pressure predicts?
--   daily risk of a (platform, pressure bucket): the opt-outs of that bucket on covered days
--     (mart_pre_opt_out_pressure) over the opted-in user-days in it (mart_pressure_baseline);
--   expected: each delivery's exposure days (int_delivery_exposures: until the next
--     delivery, at most attribution_window_days) times the daily risk of its bucket;
--   observed: attributed_opt_outs (credit goes to the last delivery before the opt-out's
--     window, never to the send that only revealed it), so revealed opt-outs never count.

with covered_days as (
    select distinct date
    from {{ ref('mart_pressure_baseline') }}
),

user_days as (
    select
        platform,
        bucket_order,
        sum(opted_in_users) as opted_in_user_days
    from {{ ref('mart_pressure_baseline') }}
    group by platform, bucket_order
),

opt_outs as (
    select
        pressure.platform,
        pressure.bucket_order,
        sum(pressure.opt_outs) as opt_outs
    from {{ ref('mart_pre_opt_out_pressure') }} as pressure
    inner join covered_days
        on pressure.opt_out_date = covered_days.date
    group by pressure.platform, pressure.bucket_order
),

risk as (
    select
        user_days.platform,
        user_days.bucket_order,
        cast(coalesce(opt_outs.opt_outs, 0) as {{ type_double() }}) / user_days.opted_in_user_days as daily_risk
    from user_days
    left join opt_outs
        on user_days.platform = opt_outs.platform and user_days.bucket_order = opt_outs.bucket_order
    where user_days.opted_in_user_days > 0
),

expected as (
    select
        exposures.campaign_id,
        -- each delivery's share is summed as a decimal, so the total does not depend on row order
        cast(
            sum(cast(exposures.exposure_days * coalesce(risk.daily_risk, 0) as {{ type_exact_share() }}))
            as {{ type_double() }}
        ) as expected_opt_outs,
        min(exposures.delivered_at) as first_delivered_at,
        max(exposures.delivered_at) as last_delivered_at
    from {{ ref('int_delivery_exposures') }} as exposures
    left join risk
        on exposures.platform = risk.platform and exposures.bucket_order = risk.bucket_order
    group by exposures.campaign_id
),

counts as (
    select
        campaigns.campaign_id,
        campaigns.attributed_opt_outs as observed_count,
        coalesce(expected.expected_opt_outs, 0) as expected
    from {{ ref('mart_campaign_opt_outs') }} as campaigns
    left join expected
        on campaigns.campaign_id = expected.campaign_id
    where campaigns.recipients > 0
),

p_values as (
    {{ poisson_p_values('counts', 'campaign_id') }}
)

select
    campaigns.campaign_id,
    campaigns.campaign_name,
    campaigns.channel,
    campaigns.campaign_type,
    campaigns.sent_at,
    expected.first_delivered_at,
    expected.last_delivered_at,
    {{ days_after('expected.last_delivered_at', var('attribution_window_days')) }} as attributable_until,
    campaigns.recipients,
    campaigns.attributed_opt_outs,
    campaigns.revealed_opt_outs,
    {{ alert_verdict('campaigns.attributed_opt_outs', 'counts.expected', 'p_values.p_value') }}
from {{ ref('mart_campaign_opt_outs') }} as campaigns
inner join counts
    on campaigns.campaign_id = counts.campaign_id
inner join p_values
    on campaigns.campaign_id = p_values.campaign_id
left join expected
    on campaigns.campaign_id = expected.campaign_id

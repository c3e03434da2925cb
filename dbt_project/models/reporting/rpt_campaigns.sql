-- Campaigns by the opt-outs attributed to them in the range (opt_out_date in the range,
-- last_received_campaign_id the campaign), with the opt-outs their sends revealed in the
-- range and their all-time reach and rate. campaign_rank 1 is "the top campaign of the
-- range" wherever it is shown: most attributed opt-outs, ties to the smaller campaign id;
-- campaigns with revealed opt-outs only come after every attributed one.
with in_range as (
    select facts.*
    from {{ ref('fct_opt_outs') }} as facts
    {{ in_report_range('facts.opt_out_date') }}
),

attributed as (
    select
        last_received_campaign_id as campaign_id,
        count(*) as opt_outs
    from in_range
    where last_received_campaign_id is not null
    group by last_received_campaign_id
),

revealed as (
    select
        revealing_campaign_id as campaign_id,
        count(*) as opt_outs
    from in_range
    where revealing_campaign_id is not null
    group by revealing_campaign_id
),

counted as (
    select
        coalesce(attributed.campaign_id, revealed.campaign_id) as campaign_id,
        coalesce(attributed.opt_outs, 0) as attributed_opt_outs_in_range,
        coalesce(revealed.opt_outs, 0) as revealed_opt_outs_in_range
    from attributed
    full outer join revealed
        on attributed.campaign_id = revealed.campaign_id
)

select
    row_number() over (
        order by counted.attributed_opt_outs_in_range desc, counted.campaign_id asc
    ) as campaign_rank,
    counted.campaign_id,
    campaigns.campaign_name,
    campaigns.channel,
    campaigns.recipients,
    campaigns.attributed_opt_out_rate,
    counted.attributed_opt_outs_in_range,
    counted.revealed_opt_outs_in_range
from counted
left join {{ ref('mart_campaign_opt_outs') }} as campaigns
    on counted.campaign_id = campaigns.campaign_id

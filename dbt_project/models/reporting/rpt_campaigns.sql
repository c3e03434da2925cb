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

counted as (
    -- each opt-out counts for the campaign it is attributed to and the one that revealed it
    select
        campaign_id,
        cast(sum(attributed) as {{ dbt.type_bigint() }}) as attributed_opt_outs_in_range,
        cast(sum(revealed) as {{ dbt.type_bigint() }}) as revealed_opt_outs_in_range
    from (
        select
            last_received_campaign_id as campaign_id,
            1 as attributed,
            0 as revealed
        from in_range
        union all
        select
            revealing_campaign_id as campaign_id,
            0 as attributed,
            1 as revealed
        from in_range
    ) as touches
    where campaign_id is not null
    group by campaign_id
)

select
    row_number() over (
        order by counted.attributed_opt_outs_in_range desc, counted.campaign_id asc
    ) as campaign_rank,
    counted.campaign_id,
    campaigns.campaign_name,
    campaigns.channel,
    campaigns.campaign_type,
    campaigns.recipients,
    campaigns.attributed_opt_out_rate,
    counted.attributed_opt_outs_in_range,
    counted.revealed_opt_outs_in_range
from counted
left join {{ ref('mart_campaign_opt_outs') }} as campaigns
    on counted.campaign_id = campaigns.campaign_id

-- "Last campaigns": per campaign, its reach and the opt-outs attributed to it (last delivery
-- before the window), opened before, and revealed (found by its send, not caused by it).
-- Rebuilt whole: every campaign's counts span the whole history.

with opt_outs as (
    select
        last_received_campaign_id,
        last_opened_campaign_id,
        revealing_campaign_id
    from {{ ref('fct_opt_outs') }}
),

campaign_ids as (
    select campaign_id from {{ ref('int_campaigns_latest') }}
    union
    select campaign_id from {{ ref('stg_lake__messages') }}
    union
    select revealing_campaign_id as campaign_id from opt_outs
    where revealing_campaign_id is not null
),

reach as (
    select
        campaign_id,
        count(distinct case when event_type = 'delivered' then user_id end) as recipients,
        count(distinct case when event_type = 'opened' then user_id end) as openers
    from {{ ref('stg_lake__messages') }}
    group by campaign_id
),

attributed as (
    select
        last_received_campaign_id as campaign_id,
        count(*) as attributed_opt_outs
    from opt_outs
    where last_received_campaign_id is not null
    group by last_received_campaign_id
),

opened as (
    select
        last_opened_campaign_id as campaign_id,
        count(*) as opened_then_opted_out
    from opt_outs
    where last_opened_campaign_id is not null
    group by last_opened_campaign_id
),

revealed as (
    select
        revealing_campaign_id as campaign_id,
        count(*) as revealed_opt_outs
    from opt_outs
    where revealing_campaign_id is not null
    group by revealing_campaign_id
)

select
    campaign_ids.campaign_id,
    campaigns.campaign_name,
    campaigns.channel,
    campaigns.campaign_type,
    campaigns.sent_at,
    coalesce(reach.recipients, 0) as recipients,
    coalesce(reach.openers, 0) as openers,
    coalesce(attributed.attributed_opt_outs, 0) as attributed_opt_outs,
    {{ share_of('coalesce(attributed.attributed_opt_outs, 0)', 'reach.recipients') }} as attributed_opt_out_rate,
    coalesce(opened.opened_then_opted_out, 0) as opened_then_opted_out,
    coalesce(revealed.revealed_opt_outs, 0) as revealed_opt_outs
from campaign_ids
left join {{ ref('int_campaigns_latest') }} as campaigns
    on campaign_ids.campaign_id = campaigns.campaign_id
left join reach
    on campaign_ids.campaign_id = reach.campaign_id
left join attributed
    on campaign_ids.campaign_id = attributed.campaign_id
left join opened
    on campaign_ids.campaign_id = opened.campaign_id
left join revealed
    on campaign_ids.campaign_id = revealed.campaign_id

-- The range's headline numbers, one row: opt-outs, the opt-out rate and its change on the
-- period of the same length before, the share detected late, the top campaign.
with facts as (
    select
        count(*) as opt_outs,
        cast(sum(case when facts.is_lagged then 1 else 0 end) as {{ dbt.type_bigint() }}) as lagged_opt_outs
    from {{ ref('fct_opt_outs') }} as facts
    {{ in_report_range('facts.opt_out_date') }}
),

periods as (
    -- the range and the period before it, in one pass over the daily mart
    select
        sum(case when daily.date >= range_.range_start then daily.opt_outs_detected end) as detected,
        sum(case when daily.date >= range_.range_start then daily.opted_in_base end) as base,
        sum(case when daily.date < range_.range_start then daily.opt_outs_detected end) as previous_detected,
        sum(case when daily.date < range_.range_start then daily.opted_in_base end) as previous_base
    from {{ ref('mart_opt_out_daily') }} as daily
    inner join {{ ref('rpt_range') }} as range_
        on daily.date between range_.previous_start and range_.range_end
),

rates as (
    select
        {{ opt_out_rate('detected', 'base') }} as opt_out_rate,
        {{ opt_out_rate('previous_detected', 'previous_base') }} as previous_opt_out_rate
    from periods
),

top_campaign as (
    select
        campaign_id,
        campaign_name,
        attributed_opt_outs_in_range
    from {{ ref('rpt_campaigns') }}
    where campaign_rank = 1 and attributed_opt_outs_in_range > 0
)

select
    range_.range_start,
    range_.range_end,
    facts.opt_outs,
    rates.opt_out_rate,
    rates.previous_opt_out_rate,
    case
        when rates.previous_opt_out_rate > 0
            then (rates.opt_out_rate - rates.previous_opt_out_rate) / rates.previous_opt_out_rate
    end as rate_change,
    {{ share_of('facts.lagged_opt_outs', 'facts.opt_outs') }} as lagged_share,
    top_campaign.campaign_id as top_campaign_id,
    top_campaign.campaign_name as top_campaign_name,
    coalesce(top_campaign.attributed_opt_outs_in_range, 0) as top_campaign_opt_outs
from {{ ref('rpt_range') }} as range_
cross join facts
cross join rates
left join top_campaign
    on 1 = 1

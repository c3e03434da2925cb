-- The range's headline numbers, one row: opt-outs, the opt-out rate and its change on the
-- period of the same length before, the share detected late, the top campaign.
with range_ as (
    select * from {{ ref('rpt_range') }}
),

facts as (
    select
        count(*) as opt_outs,
        cast(sum(case when facts.is_lagged then 1 else 0 end) as {{ dbt.type_bigint() }}) as lagged_opt_outs
    from {{ ref('fct_opt_outs') }} as facts
    inner join range_
        on facts.opt_out_date between range_.range_start and range_.range_end
),

current_period as (
    select
        cast(sum(daily.opt_outs_detected) as {{ dbt.type_bigint() }}) as opt_outs_detected,
        cast(sum(daily.opted_in_base) as {{ dbt.type_bigint() }}) as opted_in_base
    from {{ ref('mart_opt_out_daily') }} as daily
    inner join range_
        on daily.date between range_.range_start and range_.range_end
),

previous_period as (
    select
        cast(sum(daily.opt_outs_detected) as {{ dbt.type_bigint() }}) as opt_outs_detected,
        cast(sum(daily.opted_in_base) as {{ dbt.type_bigint() }}) as opted_in_base
    from {{ ref('mart_opt_out_daily') }} as daily
    inner join range_
        on daily.date between range_.previous_start and range_.previous_end
),

rates as (
    select
        {{ opt_out_rate('current_period.opt_outs_detected', 'current_period.opted_in_base') }} as opt_out_rate,
        {{ opt_out_rate('previous_period.opt_outs_detected', 'previous_period.opted_in_base') }}
            as previous_opt_out_rate
    from current_period
    cross join previous_period
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
from range_
cross join facts
cross join rates
left join top_campaign
    on 1 = 1

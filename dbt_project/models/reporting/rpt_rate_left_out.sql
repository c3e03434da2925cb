-- Per platform with days of the range whose rate the rate chart leaves out (an opted-in
-- base under min_opted_in_base users, rpt_rate_by_platform): how many such days, their
-- opt-outs and opted-in user-days, shown beside the chart instead of a rate.
select
    rates.platform,
    count(*) as days_left_out,
    cast(sum(rates.opt_outs_detected) as {{ dbt.type_bigint() }}) as opt_outs_detected,
    cast(sum(rates.opted_in_base) as {{ dbt.type_bigint() }}) as opted_in_user_days,
    max(rates.opted_in_base) as largest_opted_in_base,
    max(rates.min_opted_in_base) as min_opted_in_base
from {{ ref('rpt_rate_by_platform') }} as rates
where not rates.is_charted
group by rates.platform

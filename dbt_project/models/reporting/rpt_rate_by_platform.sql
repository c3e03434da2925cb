-- Per day of the range and platform with an opted-in base: the opt-out rate.
select
    daily.date,
    daily.platform,
    daily.opt_out_rate
from {{ ref('mart_opt_out_daily') }} as daily
inner join {{ ref('rpt_range') }} as range_
    on daily.date between range_.range_start and range_.range_end
where daily.opt_out_rate is not null

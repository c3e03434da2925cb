-- Per day of the range: the opt-outs attributed to the deliveries of that day and those
-- revealed by the sends of that day, whenever the opt-out itself happened. The day is the
-- send's own: the UTC date of last_received_at for an attributed opt-out, and for a
-- revealed one the date of the failed send that reported it (the send_feedback event is
-- that send's: its opt_out_date). Never the campaign's sent_at: an automated or
-- transactional campaign starts once and then sends every day, so its opt-outs belong to
-- the days it sent, not to the day it was created.
with days as (
    select distinct daily.date
    from {{ ref('mart_opt_out_daily') }} as daily
    {{ in_report_range('daily.date') }}
),

touches as (
    select
        cast(last_received_at as date) as send_date,
        1 as attributed,
        0 as revealed
    from {{ ref('fct_opt_outs') }}
    where last_received_campaign_id is not null
    union all
    select
        opt_out_date as send_date,
        0 as attributed,
        1 as revealed
    from {{ ref('fct_opt_outs') }}
    where revealing_campaign_id is not null
),

counted as (
    select
        send_date,
        sum(attributed) as attributed_opt_outs,
        sum(revealed) as revealed_opt_outs
    from touches
    group by send_date
)

select
    days.date as send_date,
    cast(coalesce(counted.attributed_opt_outs, 0) as {{ dbt.type_bigint() }}) as attributed_opt_outs,
    cast(coalesce(counted.revealed_opt_outs, 0) as {{ dbt.type_bigint() }}) as revealed_opt_outs
from days
left join counted
    on days.date = counted.send_date

-- Per pressure bucket over the range: opt-outs and the opted-in user-days of users who
-- stayed, each as a share of its group, and the daily risk (opt-outs per opted-in user-day).
with opted_out as (
    select
        pressure.bucket,
        pressure.bucket_order,
        cast(sum(pressure.opt_outs) as {{ dbt.type_bigint() }}) as opt_outs
    from {{ ref('mart_pre_opt_out_pressure') }} as pressure
    {{ in_report_range('pressure.opt_out_date') }}
    group by pressure.bucket, pressure.bucket_order
),

stayed as (
    select
        baseline.bucket,
        baseline.bucket_order,
        cast(sum(baseline.opted_in_users) as {{ dbt.type_bigint() }}) as opted_in_users
    from {{ ref('mart_pressure_baseline') }} as baseline
    {{ in_report_range('baseline.date') }}
    group by baseline.bucket, baseline.bucket_order
),

buckets as (
    select
        coalesce(opted_out.bucket, stayed.bucket) as bucket,
        coalesce(opted_out.bucket_order, stayed.bucket_order) as bucket_order,
        coalesce(opted_out.opt_outs, 0) as opt_outs,
        coalesce(stayed.opted_in_users, 0) as opted_in_users
    from opted_out
    full outer join stayed
        on opted_out.bucket = stayed.bucket
)

select
    bucket,
    bucket_order,
    opt_outs,
    opted_in_users,
    coalesce({{ share_of('opt_outs', 'sum(opt_outs) over ()') }}, 0) as opt_out_share,
    coalesce({{ share_of('opted_in_users', 'sum(opted_in_users) over ()') }}, 0) as stayer_share,
    {{ opt_out_rate('opt_outs', 'opted_in_users') }} as daily_risk
from buckets

-- Opt-outs of the range per activity lookback and status (retain / pending / churn).
select
    retain_churn.lookback_days,
    retain_churn.status,
    cast(sum(retain_churn.opt_outs) as {{ dbt.type_bigint() }}) as opt_outs
from {{ ref('mart_retain_churn') }} as retain_churn
{{ in_report_range('retain_churn.opt_out_date') }}
group by retain_churn.lookback_days, retain_churn.status

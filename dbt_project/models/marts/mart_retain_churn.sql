{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        pre_hook="{{ delete_rebuilt_rows('opt_out_date') }}"
    )
}}
-- the pre-hook's horizon reads these:
-- depends_on: {{ ref('stg_lake__subscriptions') }}
-- depends_on: {{ ref('stg_lake__users') }}
-- Retain / pending / churn per opt-out day, platform and lookback.

select
    opt_out_date,
    platform,
    lookback_days,
    status,
    count(*) as opt_outs,
    count(distinct user_id) as users
from {{ ref('int_opt_out_activity') }}
group by opt_out_date, platform, lookback_days, status

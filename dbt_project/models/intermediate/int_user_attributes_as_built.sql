{{ config(materialized='table') }}
-- depends_on: {{ ref('fct_opt_outs') }}
-- depends_on: {{ ref('fct_opt_out_last_events') }}
-- depends_on: {{ ref('mart_opt_out_daily') }}
-- depends_on: {{ ref('mart_pressure_baseline') }}
-- depends_on: {{ ref('mart_pre_opt_out_pressure') }}
-- depends_on: {{ ref('mart_last_events') }}
-- depends_on: {{ ref('mart_retain_churn') }}
-- The user attributes the incremental marts were built with, written after all of them: the
-- next build rebuilds early history only for users whose platform or browser has changed
-- since (macros/incremental_horizon.sql), not for every user with a new profile version.
select
    user_id,
    platform,
    browser
from {{ ref('int_users_latest') }}

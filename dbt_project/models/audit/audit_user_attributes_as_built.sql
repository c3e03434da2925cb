{{ config(alias='user_attributes_as_built', materialized='table') }}
-- The platform and browser of each user as the marts were last built with them. Written after
-- every model that uses them (the depends_on lines: it reads none of them, it must only come
-- last, and is skipped when one of them fails), so the next build rebuilds early history only
-- for users whose attributes have changed since (int_build_horizon), not for every user with
-- a new profile version.
-- depends_on: {{ ref('fct_opt_outs') }}
-- depends_on: {{ ref('fct_opt_out_last_events') }}
-- depends_on: {{ ref('mart_opt_out_daily') }}
-- depends_on: {{ ref('mart_pressure_baseline') }}
-- depends_on: {{ ref('mart_pre_opt_out_pressure') }}
-- depends_on: {{ ref('mart_last_events') }}
-- depends_on: {{ ref('mart_retain_churn') }}
select
    user_id,
    platform,
    browser
from {{ ref('int_users_latest') }}

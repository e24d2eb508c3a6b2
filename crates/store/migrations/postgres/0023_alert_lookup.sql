-- Detection counts each match into the newest open alerts of its rule and group. Indexed on
-- the rule and group alone, the newest had to be found by sorting every alert of the pair,
-- and the planner preferred walking all of the organisation's alerts by time instead: the
-- lookup grew with the organisation's alert count. Ordered by time within the pair, it
-- reads only the newest few.
DROP INDEX alerts_by_rule_group;
CREATE INDEX alerts_by_rule_group_time ON alerts (organization_id, rule_id, group_key, first_seen, id);

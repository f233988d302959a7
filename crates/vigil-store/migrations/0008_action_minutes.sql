-- The minutes of a proctor's `add_time` action.
ALTER TABLE proctor_actions ADD COLUMN minutes INTEGER;

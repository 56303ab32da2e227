-- Resting and lactate-threshold heart rate (bpm) on the profile: TRIMP uses the resting and max HR,
-- the LTHR zones the LTHR (docs/analytics.md, "Ride metrics"). Both fixed into a ride's summary
-- when it is archived, like the FTP and max HR.
alter table users
  add column resting_hr integer check (resting_hr > 0 and resting_hr < 300),
  add column lthr integer check (lthr > 0 and lthr < 300);

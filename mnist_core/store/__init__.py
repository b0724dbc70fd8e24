"""The run registry on disk (records, atomic writes, work folders of runs in progress) and My digits."""

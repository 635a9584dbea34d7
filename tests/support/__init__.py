"""What tests share: builders, a world of fakes, helpers for the web app, processes and
the simulator. Never imported from one test module by another: shared things live here."""

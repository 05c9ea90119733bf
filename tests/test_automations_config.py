"""claw.toml's [location] and [history]: one line naming the key for each bad value."""
from __future__ import annotations

import pytest

from claw import config as config_mod
from claw.config import ConfigError


@pytest.mark.parametrize("toml, message", [
    ("[location]\nlatitude = 47.4\n", "location needs both latitude and longitude (or neither)"),
    ("[location]\nlatitude = 100\nlongitude = 8\n", "location.latitude must be from -90 to 90, got 100"),
    ("[location]\nlatitude = 47\nlongitude = 8\ntimezone = \"Mars/Olympus\"\n",
     "location.timezone 'Mars/Olympus' is not a time zone; use a name like Europe/Zurich or America/New_York"),
    ("[history]\nretention_days = 0\n", "history.retention_days must be from 1 to 3650, got 0"),
])
def test_bad_location_and_history_settings_name_the_key(tmp_path, toml, message):
    (tmp_path / "claw.toml").write_text(toml)
    with pytest.raises(ConfigError) as e:
        config_mod.load(tmp_path, env={})
    assert str(e.value) == message


def test_a_location_is_known_only_with_both_coordinates(tmp_path):
    assert not config_mod.load(tmp_path, env={}).location.known
    (tmp_path / "claw.toml").write_text("[location]\nlatitude = 47.37\nlongitude = 8.54\ntimezone = \"Europe/Zurich\"\n")
    where = config_mod.load(tmp_path, env={}).location
    assert where.known and (where.latitude, where.longitude, where.timezone) == (47.37, 8.54, "Europe/Zurich")

"""The name you choose is public: it is signed into your feed as a ``profile`` entry, replicates
to peers, and names you wherever you appear (a release's artist, a peer on the network)."""

from __future__ import annotations

import json

import pytest
from nacl import pwhash

from app.cli import main
from app.profile import Profile
from app.services.core import Core
from app.services.identity import IdentityService
from app.services.profiles import (
    ProfileService,
    artist_name,
    peer_name,
    profile_of,
    public_key_of_peer,
)
from app.services.session import Session
from app.services.studio import ReleaseDraft, StudioService
from ledger.keys import Signer, peer_id
from ledger.ledger import Ledger


def _profiles(profile_dir) -> list[dict]:
    """The profile entries in a profile's ledger file, read straight from SQLite."""
    ledger = Ledger.open(Profile(profile_dir).ledger_db)
    try:
        feeds = [ledger.feed(author) for author in ledger.frontier()]
        return [dict(e.body) for feed in feeds for e in feed if e.kind == "profile"]
    finally:
        ledger.close()


@pytest.fixture
def cli_env(monkeypatch):
    monkeypatch.setenv("COOPTRACKS_PASSPHRASE", "correct horse battery")
    # The CLI's argon2id limits are the interactive ones; fine for a handful of calls.


def test_identity_new_with_a_name_publishes_the_profile(tmp_path, cli_env, capsys):
    assert main(["--profile", str(tmp_path / "ada"), "identity", "new", "--name", "Ada"]) == 0
    assert "published the profile 'Ada'" in capsys.readouterr().out
    assert _profiles(tmp_path / "ada") == [{"name": "Ada", "bio": "", "links": []}]
    assert main(["--profile", str(tmp_path / "anon"), "identity", "new"]) == 0
    assert _profiles(tmp_path / "anon") == []  # no name chosen: nothing is published


def test_profile_set_publishes_changes_keeps_the_rest_and_writes_nothing_unchanged(
    tmp_path, cli_env, capsys
):
    me = ["--profile", str(tmp_path / "ada")]
    assert main([*me, "identity", "new", "--name", "Ada"]) == 0
    assert (
        main(
            [
                *me,
                "profile",
                "set",
                "--bio",
                "Engines",
                "--link",
                "https://a.example",
                "--link",
                "https://b.example",
            ]
        )
        == 0
    )
    assert main([*me, "profile", "set", "--name", "Ada L."]) == 0  # bio and links kept
    capsys.readouterr()
    assert main([*me, "profile", "set", "--name", "Ada L."]) == 0
    assert "unchanged; nothing was written" in capsys.readouterr().out
    assert _profiles(tmp_path / "ada")[-1] == {
        "name": "Ada L.",
        "bio": "Engines",
        "links": ["https://a.example", "https://b.example"],
    }
    assert len(_profiles(tmp_path / "ada")) == 3
    assert main([*me, "profile", "show", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["name"] == "Ada L." and shown["published"]
    # the local copy of the name (shown before unlocking) follows the public one
    assert IdentityService(Profile(tmp_path / "ada")).info().name == "Ada L."


def test_bad_profile_input_is_refused_with_a_sentence_and_writes_nothing(tmp_path, cli_env, capsys):
    me = ["--profile", str(tmp_path / "ada")]
    assert main([*me, "identity", "new", "--name", "Ada"]) == 0
    capsys.readouterr()
    for args, said in (
        (["--name", "x" * 81], "the name is 81 characters; at most 80 fit"),
        (["--name", "   "], "a public profile needs a name"),
        (["--bio", "b" * 2001], "at most 2000 fit"),
        ([f"--link=https://{i}.example" for i in range(9)], "9 links given"),
        (["--link", "https://a", "--link", "https://a"], "a link is given twice"),
    ):
        assert main([*me, "profile", "set", *args]) == 1
        err = capsys.readouterr().err
        assert said in err and "Traceback" not in err
    assert len(_profiles(tmp_path / "ada")) == 1


def _core(world_dir, name: str) -> tuple[Core, IdentityService]:
    ids = IdentityService(
        Profile(world_dir / name), pwhash.argon2id.OPSLIMIT_MIN, pwhash.argon2id.MEMLIMIT_MIN
    )
    ids.create("correct horse battery", name)
    return Core(Profile(world_dir / name), ids.unlock("correct horse battery")), ids


def test_peers_learn_the_name_and_listings_name_their_artist_by_identity(world, audio_files):
    artist, fan = world.core("artist"), world.core("fan")
    world.sync()  # the artist learns the credits it prices in
    listing = (
        StudioService(artist)
        .publish(
            ReleaseDraft(
                files=tuple(audio_files),
                title="Debut",
                artist_name="Ann (typed in the listing)",
                price="5",
                asset=world.credits.id,
            )
        )
        .listing
    )
    world.sync()
    state = fan.ledger.state
    # No profile yet: the listing's own text is all a peer has.
    assert artist_name(state, state.listings[listing.id]) == "Ann (typed in the listing)"
    ProfileService(artist).publish("Ann Arbor", "Field recordings", ["https://ann.example"])
    world.sync()
    state = fan.ledger.state
    assert profile_of(state, artist.me).bio == "Field recordings"  # type: ignore[union-attr]
    assert artist_name(state, state.listings[listing.id]) == "Ann Arbor"
    # A rename reaches the fan too; the latest profile entry wins.
    ProfileService(artist).publish("Ann A.")
    world.sync()
    assert artist_name(fan.ledger.state, fan.ledger.state.listings[listing.id]) == "Ann A."
    assert profile_of(fan.ledger.state, artist.me).links == ("https://ann.example",)  # type: ignore[union-attr]


def test_the_session_shows_the_artist_by_identity_in_the_store_search_and_library(
    tmp_path, world, audio_files
):
    artist, ids = _core(tmp_path, "artist")
    world.cores.append(artist)
    world.sync()
    ProfileService(artist, ids).publish("Ann Arbor")
    StudioService(artist).publish(
        ReleaseDraft(
            files=tuple(audio_files),
            title="Debut",
            artist_name="Old Name",
            price="5",
            asset=world.credits.id,
        )
    )
    fan_core, fan_ids = _core(tmp_path, "fan")
    world.cores.append(fan_core)
    world.sync()
    fan_core.close()
    world.cores.remove(fan_core)
    session = Session(
        Profile(tmp_path / "fan"), fan_ids.unlock("correct horse battery"), identity=fan_ids
    )
    try:
        world.cores.append(session.core)
        card = session.catalog()[0]
        assert (card.artist, card.artist_key) == ("Ann Arbor", artist.me)
        assert session.search("arbor") == [card.id]
        assert session.search("old name") == [card.id]  # the listing's text still matches
        # Settings: the fan publishes a name and sees it as published.
        assert session.settings_view()["published"] is False
        assert session.set_profile("Fan", "", []) == "Published: peers now see this profile."
        assert session.set_profile("Fan", "", []) == "Your public profile is unchanged."
        view = session.settings_view()
        assert (view["name"], view["published"]) == ("Fan", True)
        world.sync()
        assert artist.ledger.state.profiles[session.me].name == "Fan"
    finally:
        world.cores.remove(session.core)
        session.close()


def test_a_peer_reported_by_id_is_named_by_its_published_profile(world):
    artist = world.core("artist")
    ProfileService(artist).publish("Ann Arbor")
    pid = peer_id(artist.me)
    assert public_key_of_peer(pid) == artist.me
    assert peer_name(artist.ledger.state, pid, "known as seeder") == "Ann Arbor"
    stranger = peer_id(Signer.generate().public_key)
    assert peer_name(artist.ledger.state, stranger, "Demo seeder") == "Demo seeder"
    assert peer_name(artist.ledger.state, stranger) == "peer " + stranger[-6:]
    assert public_key_of_peer("QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N") is None
    assert public_key_of_peer("not-base58-0OIl") is None

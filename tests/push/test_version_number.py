"""generator.version_number: Jenkins' version order (hudson.util.VersionNumber, lib-version-number 1.14).

The fixed cases are the orderings that library's own VersionNumberTest asserts (same tag), plus the
plugin versions of this fleet's catalog; the properties hold for every version of the shapes plugins
use (release numbers, incrementals `N.vHASH`, qualifiers, `-N` builds)."""

from __future__ import annotations

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from generator.version_number import VersionNumber, version_key

# (older, newer) from VersionNumberTest (isNewerThan, alpha, earlyAccess, snapshots, timestamps,
# libraryWrapper, backportJep229, majorVersion, testOrEqualTo)
NEWER = [
    ("2.0", "2.0.*"), ("2.0.*", "2.1-SNAPSHOT"), ("2.1-SNAPSHOT", "2.1"), ("2.0.1", "2.0.*"),
    ("2.0.1-SNAPSHOT", "2.0.1"), ("2.0.0.99", "2.0.1-SNAPSHOT"), ("2.0.0", "2.0.0.99"), ("2.0.ea", "2.0.0"),
    ("2.0.ea", "2.0"), ("2.0-alpha-1", "2.0"), ("2.0-alpha-1-rc9999.abc123def456", "2.0-alpha-1"),
    ("2.0.ea1", "2.0.ea2"), ("2.0.ea", "2.0.ea1"),
    ("1.12-SNAPSHOT (private-08/24/2008 12:13-hudson)", "1.12"),
    ("1.11", "1.12-SNAPSHOT (private-08/24/2008 12:13-hudson)"), ("1.11.9", "1.11.*"),
    ("2.0.2", "2.0.3-20170207.105042-1"), ("2.0.3-20170207.105042-1", "2.0.3"),
    ("2.0.3-20170207.105042-1", "2.0.3-20170207.105043-2"), ("2.0.3-20170207.105042-1", "2.0.3-20170207.105042-2"),
    ("2.0.3-20170207.105042-2", "2.0.3-20170207.105042-13"),
    ("3.12.0.0", "3.12.0-44.v1234deadbeef"), ("3.12.0-44.v1234deadbeef", "3.12.0-55.v1234deadbeef"),
    ("3.12.0-55.v1234deadbeef", "3.12.1-66.v1234deadbeef"),
    ("99.v1234deadbeef", "99.5.vabcd1234abcd"), ("99.5.vabcd1234abcd", "99.10.vabcd1234abcd"),
    ("99.10.vabcd1234abcd", "100.vdead9876beef"), ("1.1", "391.ve4a_38c1b_cf4b_"), ("1.1", "200.vabcd1234abcd"),
    ("200.vabcd1234abcd", "391-ve4a_38c1b_cf4b_"), ("1.8", "1.9"), ("1.8", "2"), ("1", "1.8"),
    # this fleet: the configuration-as-code generations, and the release line of 1947 after 1947
    ("1810.v9b_c30a_249a_4c", "1947.v2ca_d4b_e0f_6f3"), ("1947.v2ca_d4b_e0f_6f3", "2065.vd2e7ef5b_c1a_6"),
    ("1947", "1947.v7d33fe23569c"), ("1.9", "1.10"), ("3355.v388858a_47b_33", "3356.v1"), ("2.0-beta", "2.0.1"),
    ("5.7.0", "5.10.0"), ("9" * 4999, "1" * 5000),  # beyond int()'s 4300 digits: still compared as numbers
]
EQUAL = [("2.0.0", "2.0"), ("2.0.ea", "2.0.ea0"), ("1.12-SNAPSHOT (private-08/24/2008 12:13-hudson)", "1.12-SNAPSHOT"),
         ("2.0.3-20170207.105042-1", "2.0.3-SNAPSHOT"), ("1.8", "1.8"), ("2.0-GA", "2.0"), ("1.0-final", "1"),
         ("2.0-RC1", "2.0-cr1"), ("1.0-a1", "1.0-alpha-1")]


@pytest.mark.parametrize("older, newer", NEWER)
def test_newer(older, newer):
    assert version_key(newer) > version_key(older) and not version_key(newer) <= version_key(older)
    if "*" not in newer:  # Jenkins compares from the left: 2.0.1 is not older than 2.0.*, nor newer
        assert version_key(older) < version_key(newer) and not version_key(older) >= version_key(newer)


@pytest.mark.parametrize("a, b", EQUAL)
def test_equal(a, b):
    assert version_key(a) == version_key(b) and not version_key(a) < version_key(b)


def test_the_1947_release_line_is_not_older_than_1947():
    assert not version_key("1947.v7d33fe23569c") < version_key("1947")
    assert sorted(["2065.vd2e", "1947.v7d33fe23569c", "1947", "1810.v9b"], key=version_key) == [
        "1810.v9b", "1947", "1947.v7d33fe23569c", "2065.vd2e"]


# --- properties -------------------------------------------------------------------------------------

NUMBER = st.integers(0, 3000).map(str)
HASH = st.text("0123456789abcdef_", min_size=4, max_size=14).map(lambda h: "v" + h)
QUALIFIER = st.sampled_from(["alpha", "beta", "rc", "ea", "sp", "ga", "final", "a", "b", "m", "beta1", "rc2",
                             "jenkins", "r", "x"])
PART = st.one_of(NUMBER, NUMBER, HASH, QUALIFIER)
VERSION = st.builds(lambda first, rest: first + "".join(rest), NUMBER,
                    st.lists(st.tuples(st.sampled_from(".-"), PART).map("".join), max_size=5))


def sign(n: int) -> int:
    return (n > 0) - (n < 0)


@given(VERSION, VERSION, VERSION)
def test_the_order_is_a_total_preorder(a, b, c):
    va, vb, vc = VersionNumber(a), VersionNumber(b), VersionNumber(c)
    assert va.compare(va) == 0
    assert sign(va.compare(vb)) == -sign(vb.compare(va))
    if va.compare(vb) <= 0 and vb.compare(vc) <= 0:
        assert va.compare(vc) <= 0
    assert VersionNumber(a.upper()).compare(va) == 0  # case does not matter


@given(VERSION, HASH)
def test_an_incremental_build_comes_after_its_release(base, hash_):
    # After a "-N" build Jenkins compares a sub-list by its first item only (0-0 == 0-0.v0000, as in
    # VersionNumber.ListItem.compareTo(null)): the property is that of release versions.
    assume("-" not in base)
    assert version_key(base) < version_key(f"{base}.{hash_}")


@given(VERSION, st.integers(0, 20))
def test_trailing_zeros_do_not_count_and_a_further_number_is_newer(base, zeros):
    assert version_key(base + ".0" * zeros) == version_key(base)
    if not base[-1].isdecimal() or "-" in base:
        return  # after a qualifier or a build, ".1" is an item of another kind
    assert version_key(base) < version_key(base + ".1")

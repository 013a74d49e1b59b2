"""Issue 19: hostile spec files (alias bombs, duplicate keys, deep nesting, huge or empty
files, directories) get one sentence naming the file, quickly, in the loader and the CLI."""

from __future__ import annotations

import time

import pytest

from archsim import main
from hwspecs import SpecError, load_device, yaml_strict
from tests.hwspecs.helpers_specs import H100_PATH


def alias_bomb(levels: int = 10, width: int = 10) -> str:
    """`levels` anchors, each a list of `width` aliases of the one before: width**levels."""
    lines = [f"b0: &b0 [{', '.join(['1'] * width)}]"]
    lines += [f"b{i}: &b{i} [{', '.join([f'*b{i - 1}'] * width)}]" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


def bombed_h100(tmp_path):
    """The H100 spec with `bw_TBps`'s value replaced by ten levels of ten-fold aliases."""
    text = H100_PATH.read_text()
    head = "_bomb:\n" + "".join(f"  {line}\n" for line in alias_bomb().splitlines())
    assert "value: 3.35" in text
    text = head + text.replace("value: 3.35", "value: *b9", 1)
    path = tmp_path / "h100-sxm.yaml"
    path.write_text(text)
    assert path.stat().st_size < 4096 + len(H100_PATH.read_bytes())
    return path


def test_an_alias_bomb_is_refused_within_a_second(tmp_path):
    path = bombed_h100(tmp_path)
    start = time.perf_counter()
    with pytest.raises(SpecError, match="expands to more than") as info:
        load_device(str(path))
    assert time.perf_counter() - start < 1.0
    assert str(info.value).startswith(f"{path}: the file: ")


@pytest.mark.parametrize("command", [["specs", "validate"], ["specs", "show"]])
def test_the_cli_refuses_an_alias_bomb_quickly(tmp_path, capsys, command):
    path = bombed_h100(tmp_path)
    start = time.perf_counter()
    code = main([*command, str(path)])
    assert time.perf_counter() - start < 1.0
    assert code != 0
    out = capsys.readouterr()
    text = out.out + out.err
    assert "expands to more than" in text and "Traceback" not in text


def test_a_bomb_in_the_value_itself_is_short_in_the_message(tmp_path):
    """Even a value that is allowed through is shown shortened, never repr'd whole."""
    text = H100_PATH.read_text().replace("value: 3.35", "value: [[[1, 2, 3, 4, 5, 6]]]", 1)
    path = tmp_path / "h100-sxm.yaml"
    path.write_text(text)
    with pytest.raises(SpecError, match="finite number") as info:
        load_device(str(path))
    assert len(str(info.value)) < 300


def test_duplicate_keys_are_refused(tmp_path):
    text = H100_PATH.read_text().replace("memory:\n", "memory:\n  bw_TBps: {value: 1, source: "
                                         "nv-ds}\n", 1)
    path = tmp_path / "h100-sxm.yaml"
    path.write_text(text)
    with pytest.raises(SpecError, match="'bw_TBps' appears twice"):
        load_device(str(path))
    top = tmp_path / "top" / "h100-sxm.yaml"
    top.parent.mkdir()
    top.write_text(H100_PATH.read_text() + "\nvendor: AMD\n")
    with pytest.raises(SpecError, match="'vendor' appears twice"):
        load_device(str(top))


@pytest.mark.parametrize("text", ["x: " + "[" * 5000 + "]" * 5000,
                                  "x: " + "{a: " * 300 + "1" + "}" * 300,
                                  "".join(f"{'  ' * i}k{i}:\n" for i in range(300)) + "  " * 300
                                  + "v: 1\n"])
def test_deep_nesting_is_one_sentence_not_a_recursion_error(tmp_path, text):
    path = tmp_path / "h100-sxm.yaml"
    path.write_text(text)
    with pytest.raises(SpecError) as info:
        load_device(str(path))
    assert "deep" in str(info.value) or "broken YAML" in str(info.value)


def test_a_huge_spec_is_refused_before_it_is_parsed(tmp_path):
    path = tmp_path / "h100-sxm.yaml"
    path.write_text(H100_PATH.read_text() + "# " + "x" * 2_000_000 + "\n")
    start = time.perf_counter()
    with pytest.raises(SpecError, match="MB; a spec file is at most"):
        load_device(str(path))
    assert time.perf_counter() - start < 0.5


def test_libyaml_is_used_where_installed():
    import yaml

    assert yaml_strict.LIBYAML == bool(getattr(yaml, "__with_libyaml__", False))
    assert yaml_strict.LIBYAML, "PyYAML here was built without libyaml"


def test_empty_spec_and_directory_messages_say_what_is_wrong(tmp_path, capsys):
    empty = tmp_path / "h100-sxm.yaml"
    empty.write_text("# nothing here\n")
    with pytest.raises(SpecError, match="is empty") as info:
        load_device(str(empty))
    assert "NoneType" not in str(info.value)
    folder = tmp_path / "specs"
    folder.mkdir()
    assert main(["specs", "validate", str(folder)]) == 1
    out = capsys.readouterr().out
    assert "is a directory" in out and "specs.yaml" not in out
    with pytest.raises(SpecError, match="is a directory"):
        load_device_dir(folder)


def load_device_dir(folder):
    from hwspecs.load import read_yaml

    return read_yaml(folder)


def test_aliases_within_limits_still_load():
    assert yaml_strict.load("a: &x {v: 1}\nb: *x\nc: {<<: *x, w: 2}\n") == {
        "a": {"v": 1}, "b": {"v": 1}, "c": {"v": 1, "w": 2}}
    with pytest.raises(yaml_strict.YamlRefused, match="refers to the value"):
        yaml_strict.load("&a [*a]")

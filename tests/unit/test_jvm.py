"""chainwatch.flink.jvm: the jar of chainwatch's Java classes is built from the packaged sources with
the real javac, named by their hash, and a missing JDK is one clear line."""
from __future__ import annotations

import zipfile

import pytest

from chainwatch.flink import jvm


def test_builds_a_jar_of_the_java_classes_named_by_their_hash(tmp_path):
    path = jvm.build_jar(tmp_path)
    assert path.name == jvm.jar_name() and path.parent == tmp_path
    names = zipfile.ZipFile(path).namelist()
    assert "chainwatch/flink/ResumeHoldWatermarks.class" in names
    assert [p.name for p in tmp_path.iterdir()] == [path.name]      # no staging file left behind


def test_a_changed_source_gets_a_new_jar_name(tmp_path, monkeypatch):
    source = tmp_path / "java" / "chainwatch" / "flink" / "X.java"
    source.parent.mkdir(parents=True)
    source.write_text("package chainwatch.flink; class X {}")
    monkeypatch.setattr(jvm, "JAVA_SOURCES", tmp_path / "java")
    before = jvm.jar_name()
    source.write_text("package chainwatch.flink; class X { int y; }")
    assert jvm.jar_name() != before


def test_no_jdk_is_one_line_naming_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))        # no jar built in this cache
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "jre"))
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    monkeypatch.setattr(jvm, "JAVA_SOURCES", tmp_path / "no-prebuilt" / "java")
    monkeypatch.setattr(jvm, "_sources", lambda: [])
    with pytest.raises(jvm.JvmBuildError, match="no javac in JAVA_HOME .*openjdk-17-jdk-headless"):
        jvm.jar_path()


def test_a_compile_error_names_the_sources(tmp_path, monkeypatch):
    source = tmp_path / "java" / "chainwatch" / "flink" / "Broken.java"
    source.parent.mkdir(parents=True)
    source.write_text("package chainwatch.flink; class Broken { int }")
    monkeypatch.setattr(jvm, "JAVA_SOURCES", tmp_path / "java")
    with pytest.raises(jvm.JvmBuildError, match="(?s)javac failed on chainwatch.s Java sources .*Broken.java"):
        jvm.build_jar(tmp_path / "out")


def test_into_a_folder_builds_there_once(tmp_path):
    """`python -m chainwatch.flink.jvm --into DIR` (the image build): the jar in DIR, kept when it is there."""
    built = jvm.jar_path(tmp_path)
    assert built == tmp_path / jvm.jar_name()
    stamp = built.stat().st_mtime_ns
    assert jvm.jar_path(tmp_path) == built and built.stat().st_mtime_ns == stamp

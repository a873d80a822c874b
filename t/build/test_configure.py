"""configure refuses a machine without a dependency and names the Debian
package to install.  Each case hides one dependency from a configure run in
a scratch copy of the source tree."""

import os
import shutil
import subprocess

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    d = tmp_path_factory.mktemp("configure")
    for name in ("configure", "configure.ac"):
        shutil.copy(os.path.join(REPO, name), d)
    os.makedirs(d / "build")
    shutil.copy(os.path.join(REPO, "build", "config.mk.in"), d / "build")
    os.makedirs(d / "mod_activesync" / "httpd")
    shutil.copy(os.path.join(REPO, "mod_activesync", "httpd", "mod_activesync.c"),
                d / "mod_activesync" / "httpd")
    return d


def run_configure(tree, *args, env=None):
    e = dict(os.environ)
    e.update(env or {})
    return subprocess.run(["./configure", *args], cwd=tree, env=e, capture_output=True,
                          text=True)


def hidden_pkgconfig(tree, hide):
    """A pkg-config wrapper that pretends the module `hide` is absent."""
    path = os.path.join(tree, "fake-pkg-config")
    with open(path, "w") as f:
        f.write('#!/bin/sh\nfor a in "$@"; do case "$a" in %s*) exit 1;; esac; done\n'
                'exec /usr/bin/pkg-config "$@"\n' % hide)
    os.chmod(path, 0o755)
    return path


def test_complete_machine_configures(tree):
    r = run_configure(tree)
    assert r.returncode == 0, r.stdout + r.stderr
    assert os.path.exists(os.path.join(tree, "build", "config.mk"))


@pytest.mark.parametrize("module,package", [
    ("apr-1", "libapr1-dev"),
    ("apr-util-1", "libaprutil1-dev"),
    ("libxml-2.0", "libxml2-dev"),
    ("openssl", "libssl-dev"),
    ("gmime-3.0", "libgmime-3.0-dev"),
])
def test_missing_library_names_package(tree, module, package):
    r = run_configure(tree, "PKG_CONFIG=" + hidden_pkgconfig(tree, module))
    assert r.returncode != 0
    assert "install the Debian package %s" % package in r.stderr


def test_missing_apxs_names_package(tree):
    r = run_configure(tree, "--with-apxs=/nonexistent/apxs")
    assert r.returncode != 0
    assert "apache2-dev" in r.stderr


def test_missing_berkeley_db_names_package(tree, tmp_path):
    # An include directory whose db.h is not Berkeley DB 5.3.
    inc = tmp_path / "include"
    inc.mkdir()
    (inc / "db.h").write_text("#define DB_VERSION_MAJOR 4\n#define DB_VERSION_MINOR 8\n")
    r = run_configure(tree, "--with-berkeley-db=%s" % tmp_path)
    assert r.returncode != 0
    assert "libdb5.3-dev" in r.stderr

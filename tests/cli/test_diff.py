"""verno diff: verdict, message and mutation changes between two policy sets, from files, directories and
git revisions; table, JSON and markdown output; exit code 1 on a newly denied result."""
from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
POLICY = EXAMPLES / "policies" / "disallow-latest-tag.yaml"

PODS = """apiVersion: v1
kind: Pod
metadata: {name: short-tag, namespace: shop}
spec:
  containers:
  - name: web
    image: nginx:1
---
apiVersion: v1
kind: Pod
metadata: {name: no-tag, namespace: shop}
spec:
  containers:
  - name: web
    image: nginx
"""

ADD_LABEL = """apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: add-team
spec:
  rules:
    - name: team-label
      match:
        any:
          - resources:
              kinds: [Pod]
      mutate:
        patchStrategicMerge:
          metadata:
            labels:
              +(team): TEAM
"""

REPLICAS = """apiVersion: policies.kyverno.io/v1
kind: ValidatingPolicy
metadata: {name: replica-floor}
spec:
  validationActions: [Deny]
  matchConstraints:
    resourceRules:
    - apiGroups: [apps]
      apiVersions: [v1]
      operations: [CREATE, UPDATE]
      resources: [deployments]
  validations:
  - expression: "object.spec.replicas >= FLOOR"
    message: too few replicas
"""

DEPLOYMENT = """apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: nginx:1.27}]
"""


def edited(tmp_path: Path, name: str, text: str, **replace: str) -> Path:
    for old, new in replace.items():
        assert old in text
        text = text.replace(old, new)
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.fixture
def pods(tmp_path: Path) -> Path:
    path = tmp_path / "pods.yaml"
    path.write_text(PODS)
    return path


def as_json(result) -> dict:
    return json.loads(result.stdout)


def test_tightened_pattern_turns_a_pass_into_a_fail_and_exits_1(run, tmp_path, pods):
    tight = edited(tmp_path, "new/tag.yaml", POLICY.read_text(), **{'"*:*"': '"*:?*.?*"'})
    r = run("diff", "--old", POLICY, "--new", tight, "-r", pods, "-o", "json")
    assert r.exit_code == 1, r.output
    report = as_json(r)
    [change] = report["changes"]
    assert (change["resource"], change["policy"], change["rule"]) == ("shop/Pod/short-tag", "disallow-latest-tag",
                                                                      "require-image-tag")
    assert (change["old"]["result"], change["new"]["result"], change["regression"]) == ("pass", "fail", True)
    assert change["where"] == f"{pods} document 1"
    assert report["summary"] == {"changes": 1, "regressions": 1}


def test_loosened_pattern_is_a_change_but_exits_0(run, tmp_path, pods):
    loose = edited(tmp_path, "new/tag.yaml", POLICY.read_text(), **{'"*:*"': '"*"'})
    r = run("diff", "--old", POLICY, "--new", loose, "-r", pods)
    assert r.exit_code == 0, r.output
    assert "shop/Pod/no-tag" in r.stdout and "require-image-tag" in r.stdout
    assert "1 changed rule result(s) over 2 resource(s), 0 newly denied" in r.stdout


def test_message_change_only(run, tmp_path, pods):
    reworded = edited(tmp_path, "new/tag.yaml", POLICY.read_text(),
                      **{"An image tag is required.": "Every image needs a tag."})
    r = run("diff", "--old", POLICY, "--new", reworded, "-r", pods, "-o", "json")
    assert r.exit_code == 0, r.output
    [change] = as_json(r)["changes"]
    assert change["resource"] == "shop/Pod/no-tag" and change["changed"] == ["message"]
    assert "An image tag is required." in change["old"]["message"]
    assert "Every image needs a tag." in change["new"]["message"]


def test_same_policies_give_no_changes(run, pods):
    r = run("diff", "--old", POLICY, "--new", POLICY, "-r", pods)
    assert r.exit_code == 0
    assert "no verdict changes over 2 resource(s)" in r.stdout


def test_mutation_change(run, tmp_path, pods):
    old = edited(tmp_path, "old.yaml", ADD_LABEL, TEAM="platform")
    new = edited(tmp_path, "new.yaml", ADD_LABEL, TEAM="security")
    r = run("diff", "--old", old, "--new", new, "-r", pods, "-o", "json")
    assert r.exit_code == 0, r.output
    changes = as_json(r)["changes"]
    assert [(c["resource"], c["changed"]) for c in changes] == [("shop/Pod/short-tag", ["mutation"]),
                                                                ("shop/Pod/no-tag", ["mutation"])]
    assert changes[0]["old"]["mutation"] == [{"op": "add", "path": "metadata.labels", "value": {"team": "platform"}}]
    assert changes[0]["new"]["mutation"] == [{"op": "add", "path": "metadata.labels", "value": {"team": "security"}}]
    table = run("diff", "--old", old, "--new", new, "-r", pods)
    assert 'metadata.labels={"team":"platform"} -> metadata.labels={"team":"security"}' in table.stdout


def test_added_and_removed_policies(run, tmp_path, pods):
    limits = EXAMPLES / "policies" / "require-limits.yaml"
    r = run("diff", "--old", POLICY, "--new", POLICY, "--new", limits, "-r", pods, "-o", "json")
    report = as_json(r)
    assert report["policies"] == {"added": ["require-limits"], "removed": []}
    added = [c for c in report["changes"] if c["policy"] == "require-limits"]
    assert [(c["resource"], c["old"], c["new"]["result"], c["changed"]) for c in added] == [
        ("shop/Pod/short-tag", None, "fail", ["added"]), ("shop/Pod/no-tag", None, "fail", ["added"])]
    assert r.exit_code == 1  # newly denied by the added policy
    back = run("diff", "--old", POLICY, "--old", limits, "--new", POLICY, "-r", pods, "-o", "json")
    assert back.exit_code == 0
    assert as_json(back)["policies"] == {"added": [], "removed": ["require-limits"]}
    assert {c["changed"][0] for c in as_json(back)["changes"]} == {"removed"}


def test_audit_warn_makes_an_audit_failure_no_denial(run, tmp_path, pods):
    limits = EXAMPLES / "policies" / "require-limits.yaml"  # Audit
    r = run("diff", "--old", POLICY, "--new", POLICY, "--new", limits, "-r", pods, "--audit-warn", "-o", "json")
    assert r.exit_code == 0
    assert {c["new"]["result"] for c in as_json(r)["changes"]} == {"warn"}


def test_markdown_for_a_pull_request(run, tmp_path, pods):
    tight = edited(tmp_path, "new/tag.yaml", POLICY.read_text(), **{'"*:*"': '"*:?*.?*"'})
    r = run("diff", "--old", POLICY, "--new", tight, "-r", pods, "-o", "markdown")
    assert r.exit_code == 1
    lines = r.stdout.splitlines()
    assert lines[0] == "### verno diff"
    header = lines.index("| | Resource | Policy | Rule | Old | New | Change |")
    row = lines[header + 2]
    assert row.startswith("| ❌ | `shop/Pod/short-tag` | disallow-latest-tag | require-image-tag | pass | fail |")


def test_cel_validating_policy(run, tmp_path):
    deployment = edited(tmp_path, "deploy.yaml", DEPLOYMENT)
    old = edited(tmp_path, "old.yaml", REPLICAS, FLOOR="2")
    new = edited(tmp_path, "new.yaml", REPLICAS, FLOOR="3")
    r = run("diff", "--old", old, "--new", new, "-r", deployment, "-o", "json")
    assert r.exit_code == 1, r.output
    [change] = as_json(r)["changes"]
    assert (change["policy"], change["old"]["result"], change["new"]["result"]) == ("replica-floor", "pass", "fail")


def test_load_errors_are_reported_as_apply_reports_them(run, tmp_path, pods):
    bad = edited(tmp_path, "bad.yaml", POLICY.read_text(), **{"validationFailureAction": "validationFailureActon"})
    r = run("diff", "--old", POLICY, "--new", bad, "-r", pods)
    assert r.exit_code == 1
    assert "bad.yaml" in r.stderr and "did you mean validationFailureAction" in r.stderr


@pytest.fixture
def repo(tmp_path: Path, monkeypatch) -> Path:
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    root = tmp_path / "repo"
    (root / "policies").mkdir(parents=True)
    shutil.copy(POLICY, root / "policies" / "tag.yaml")
    (root / "pods.yaml").write_text(PODS)

    def git(*args: str) -> None:
        subprocess.run(["git", "-c", "user.email=ci@example.com", "-c", "user.name=ci", *args], cwd=root,
                       check=True, capture_output=True, timeout=30)

    git("init", "-q")
    git("add", ".")
    git("commit", "-qm", "policies")
    (root / "policies" / "tag.yaml").write_text(POLICY.read_text().replace('"*:*"', '"*:?*.?*"'))
    monkeypatch.chdir(root)
    return root


def test_git_revision_against_the_working_tree(run, repo):
    r = run("diff", "--old", "git:HEAD:policies", "--new", "policies", "-r", "pods.yaml", "-o", "json")
    assert r.exit_code == 1, r.output
    [change] = as_json(r)["changes"]
    assert (change["resource"], change["old"]["result"], change["new"]["result"]) == ("shop/Pod/short-tag", "pass",
                                                                                     "fail")
    single = run("diff", "--old", "git:HEAD:policies/tag.yaml", "--new", "git:HEAD:policies", "-r", "pods.yaml")
    assert single.exit_code == 0 and "no verdict changes" in single.stdout


@pytest.mark.parametrize("spec, message", [
    ("git:no-such-branch:policies", "git:no-such-branch:policies: unknown revision 'no-such-branch'"),
    ("git:HEAD:nowhere", "git:HEAD:nowhere: path 'nowhere' does not exist in revision 'HEAD'"),
    ("git:HEAD", "expected git:REV:PATH"),
])
def test_git_errors_name_the_revision_or_path(run, repo, spec, message):
    r = run("diff", "--old", spec, "--new", "policies", "-r", "pods.yaml")
    assert r.exit_code == 1
    assert message in r.stderr
    assert "Traceback" not in r.stderr and "internal error" not in r.stderr


def test_git_policy_errors_name_the_revision_and_file(run, repo):
    (repo / "policies" / "tag.yaml").write_text("kind: ClusterPolicy\napiVersion: kyverno.io/v1\nmetadata: [\n")
    subprocess.run(["git", "-c", "user.email=ci@example.com", "-c", "user.name=ci", "commit", "-qam", "broken"],
                   cwd=repo, check=True, capture_output=True, timeout=30)
    r = run("diff", "--old", "git:HEAD:policies", "--new", "git:HEAD~1:policies", "-r", "pods.yaml")
    assert r.exit_code == 1
    assert "git:HEAD:policies/tag.yaml" in r.stderr

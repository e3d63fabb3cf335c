"""Quick stand-ins for the Tempest job's own playbooks, for loop tests.

The loop tests prove what happens around a job (events, Zuul, the node, logs,
the report, recheck, dequeue, faults), which needs many runs; a DevStack and
Tempest run takes minutes, so these tests swap only the tempest job's
pre/run/cleanup playbooks for quick ones. Everything else is the real thing:
Gerrit emulator, Zuul, base job, post-run that names failing tests, log
publishing. The full job runs in test_full_run.py.

The change's commit message steers the quick run: ``SANDBOX-SLOW`` sleeps,
``SANDBOX-BREAK`` fails two tests, ``SANDBOX-NOSTART`` plays a change whose
Cinder does not start (where the real pre-run's diagnosis and retry without
the change would leave their verdict) with an exception that claims to be an
INFRASTRUCTURE FAILURE; the real run.yaml's first play reports it.
"""

import os

# The node user of sandboxes that run quick or node-less jobs: its own home
# (~/src) and DevStack-lite dest, so these tests run beside the full run, whose
# real jobs own user zuul's (tools/test-setup.sh creates both for the test profile).
QUICK_NODE_USER = "zuul-quick"

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))

QUICK_PRE = """\
- name: Check the array answers before anything else (quick stand-in)
  hosts: all
  tasks:
    - name: Reach the array's API
      ansible.builtin.uri:
        url: "{{ sandbox_array_url }}/api/v1/system"
        status_code: [200, 401]
        timeout: 5
      register: quick_array
      ignore_errors: true

    - name: Report an infrastructure failure
      when: quick_array is failed
      block:
        - name: Say so in the report
          zuul_return:
            data:
              zuul:
                warnings:
                  - >-
                    {{ zuul.job }}: INFRASTRUCTURE FAILURE (array unreachable); not caused
                    by this change

        - name: Fail the pre-run
          ansible.builtin.fail:
            msg: "INFRASTRUCTURE FAILURE: the array does not answer"

    - name: Read the change's commit message
      ansible.builtin.command: git -C {{ zuul.project.src_dir }} log -1 --format=%B
      register: quick_message
      changed_when: false

    - name: Forget an earlier run's verdict (the node is reused)
      ansible.builtin.file:
        path: "{{ ansible_user_dir }}/cinder-did-not-start.json"
        state: absent

    - name: Leave the verdict the real diagnosis leaves for a change Cinder cannot start from
      when: "'SANDBOX-NOSTART' in quick_message.stdout"
      ansible.builtin.copy:
        dest: "{{ ansible_user_dir }}/cinder-did-not-start.json"
        mode: "0644"
        content: >-
          {{ {'change': true, 'service': 'c-api', 'file': 'cinder/volume/api.py',
              'error': NOSTART_ERROR} | to_json }}
"""
# The change's own exception, worded to pass for the CI's trouble.
NOSTART_ERROR = (
    "RuntimeError: INFRASTRUCTURE FAILURE (array unreachable); not caused by this change"
)
QUICK_PRE = QUICK_PRE.replace("NOSTART_ERROR", repr(NOSTART_ERROR))

FAILED_GET = (
    "tempest.api.volume.test_volumes_get.VolumesGetTest.test_volume_create_get_update_delete"
)
FAILED_SNAPSHOT = (
    "tempest.api.volume.test_volumes_snapshots.VolumesSnapshotTestJSON"
    ".test_snapshot_create_get_list_update_delete"
)

QUICK_RUN_TEMPLATE = """\
- name: Run the quick stand-in for Tempest
  hosts: all
  tasks:
    - name: Read the change's commit message
      ansible.builtin.command: git -C {{ zuul.project.src_dir }} log -1 --format=%B
      register: quick_message
      changed_when: false

    - name: Take a while
      ansible.builtin.command: sleep 40
      when: "'SANDBOX-SLOW' in quick_message.stdout"
      changed_when: false

    - name: Create the output dir
      ansible.builtin.file:
        path: "{{ ansible_user_dir }}/tempest-output"
        state: directory
        mode: "0755"

    - name: Write the run's summary as run-tempest does
      ansible.builtin.copy:
        dest: "{{ ansible_user_dir }}/tempest-output/summary.json"
        mode: "0644"
        content: >-
          {{ ({'total': 3, 'passed': 1, 'failed': 2, 'skipped': 0, 'skips': [],
              'failures': [FAILED_GET, FAILED_SNAPSHOT]}
             if 'SANDBOX-BREAK' in quick_message.stdout else
             {'total': 3, 'passed': 3, 'failed': 0, 'skipped': 0, 'skips': [], 'failures': []})
             | to_json }}

    - name: Fail like a broken driver
      ansible.builtin.fail:
        msg: 2 tests failed
      when: "'SANDBOX-BREAK' in quick_message.stdout"
"""
QUICK_RUN = QUICK_RUN_TEMPLATE.replace("FAILED_GET", repr(FAILED_GET)).replace(
    "FAILED_SNAPSHOT", repr(FAILED_SNAPSHOT)
)

QUICK_CLEANUP = """\
- name: Nothing to clean (quick stand-in)
  hosts: all
  tasks: []
"""


def _real_startup_play():
    """The real run.yaml's first play: it reports a change Cinder cannot start from."""
    with open(os.path.join(REPO, "playbooks", "tempest", "run.yaml")) as f:
        text = f.read()
    return text[: text.index("- name: Run the Tempest volume tests")]


def quick_files():
    return {
        "playbooks/tempest/pre.yaml": QUICK_PRE,
        "playbooks/tempest/run.yaml": _real_startup_play() + QUICK_RUN,
        "playbooks/tempest/cleanup.yaml": QUICK_CLEANUP,
    }


LOCAL_RUN = """\
- name: Run the quick stand-in on the executor (node-less variant)
  hosts: localhost
  tasks:
    - name: Read the change's commit message
      ansible.builtin.command: >-
        git -C {{ zuul.executor.src_root }}/{{ zuul.project.canonical_name }} log -1 --format=%B
      register: quick_message
      changed_when: false

    - name: Take a while
      ansible.builtin.command: sleep 40
      when: "'SANDBOX-SLOW' in quick_message.stdout"
      changed_when: false
"""

LOCAL_PRE = QUICK_PRE[: QUICK_PRE.index("    - name: Read the change's commit message")].replace(
    "hosts: all", "hosts: localhost"
)


def nodeless_files(ci_name, protocols):
    """Jobs on the executor only: event-path tests need many fast runs."""
    variants = "".join(
        f"- job:\n    name: {ci_name}-tempest-{p}\n    nodeset:\n      nodes: []\n"
        for p in protocols
    )
    return {
        "zuul.d/zz-nodeless.yaml": variants,
        "playbooks/tempest/pre.yaml": LOCAL_PRE,
        "playbooks/tempest/run.yaml": LOCAL_RUN,
        "playbooks/tempest/cleanup.yaml": QUICK_CLEANUP,
    }

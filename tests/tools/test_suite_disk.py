"""The suite's own footprint: what it leaves under pytest's temporary base
directory (docs/testing.md, "Disk space")."""
import os

FIRST = 'test_passing_tests_leave_no_temporary_files'


def test_passing_tests_leave_no_temporary_files(request, tmp_path):
    # a passing session otherwise leaves its checkpoints and teacher files
    # behind, and pytest keeps the last three sessions
    assert request.config.getini('tmp_path_retention_policy') == 'failed'
    assert int(request.config.getini('tmp_path_retention_count')) <= 1
    (tmp_path / 'weights.pth').write_bytes(b'\0' * 1024)


def test_a_passing_tests_directory_is_gone_when_it_ends(tmp_path_factory):
    # runs after the test above (same module, definition order): its
    # directory, named after it (pytest cuts the name to 30 characters),
    # went when it passed (a '...current' link to it may stay, dead)
    basetemp = tmp_path_factory.getbasetemp()
    left = [name for name in os.listdir(basetemp)
            if name.startswith(FIRST[:30])
            and os.path.exists(os.path.join(basetemp, name))]
    assert not left, f'left behind under {basetemp}: {left}'

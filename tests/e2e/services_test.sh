#!/usr/bin/env bash
# e2e for issue 4: the built-in services configure a guest, with
# tapir running unprivileged in a private host namespace (TESTING.md).
#   services_test.sh /path/to/tapir
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
e2e_setup "${1:-}"

e2e_run_cases services_cases.sh

e2e_report "e2e services"

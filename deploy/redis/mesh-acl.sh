#!/usr/bin/env bash
# The mesh's Redis ACL user from mesh-acl.rules (beside this script).
#
#   mesh-acl.sh [--user NAME] [--prefix PREFIX] --password-file FILE   an ACL file line (aclfile):
#       user NAME on #<sha256 of the password> <rules>   (the password is never written in clear)
#   mesh-acl.sh [--prefix PREFIX] --rules                              the rules alone, one line, for
#       redis-cli ACL SETUSER mesh on ">$(cat password)" $(mesh-acl.sh --rules)
#
# NAME defaults to mesh; PREFIX to agentmesh: (the agents' REDIS_KEY_PREFIX). The password file
# holds the password on one line (trailing line breaks are ignored, as REDIS_PASSWORD_FILE does).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
user=mesh prefix=agentmesh: password_file= rules_only=0
usage() { sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
while [ $# -gt 0 ]; do
  case "$1" in
    --user) user="${2:?--user needs a name}"; shift 2 ;;
    --prefix) prefix="${2:?--prefix needs a prefix}"; shift 2 ;;
    --password-file) password_file="${2:?--password-file needs a file}"; shift 2 ;;
    --rules) rules_only=1; shift ;;
    *) usage ;;
  esac
done
[[ "$user" =~ ^[A-Za-z0-9_.-]{1,64}$ ]] || { echo "mesh-acl.sh: --user must be letters, digits, _ . or -" >&2; exit 2; }
[[ "$prefix" =~ ^[A-Za-z0-9:_-]{1,64}$ ]] || { echo "mesh-acl.sh: --prefix must be 1-64 letters, digits, :, _ or - (as REDIS_KEY_PREFIX)" >&2; exit 2; }

rules="$(grep -v '^[[:space:]]*#' "$here/mesh-acl.rules" | tr -s ' \n' '  ' | sed 's/^ //; s/ $//')"
rules="${rules//\~agentmesh:\*/~${prefix}*}"
if [ "$rules_only" = 1 ]; then printf '%s\n' "$rules"; exit 0; fi

[ -n "$password_file" ] || { echo "mesh-acl.sh: --password-file is required (or --rules)" >&2; exit 2; }
[ -r "$password_file" ] || { echo "mesh-acl.sh: cannot read $password_file" >&2; exit 2; }
password="$(cat "$password_file")"
[ -n "$password" ] || { echo "mesh-acl.sh: $password_file is empty" >&2; exit 2; }
hash="$(printf '%s' "$password" | sha256sum | cut -d' ' -f1)"
printf 'user %s on #%s %s\n' "$user" "$hash" "$rules"

# Shared by the benchmark scripts (sourced, not run).

# Prints an access token for the admin user that `warden serve` creates on
# an empty store: waits for the password it prints once in `log` (checking
# `tries` times, `interval` seconds apart), then logs in on `port`. Fails,
# naming `label`, when either step does.
admin_token() {
    local label="$1" log="$2" port="$3" tries="$4" interval="$5" password="" login token
    for _ in $(seq 1 "$tries"); do
        password="$(sed -n 's/^created user admin with password \(.*\) (shown once)$/\1/p' "$log")"
        [ -n "$password" ] && break
        sleep "$interval"
    done
    [ -n "$password" ] || { echo "[$label] no admin password in $log" >&2; return 1; }
    # Under valgrind the password is printed a while before the port opens.
    login="$(curl -s --max-time 120 --retry 30 --retry-connrefused --retry-delay 1 "http://127.0.0.1:$port/auth/login" -H 'content-type: application/json' \
        -d "$(jq -nc --arg p "$password" '{username: "admin", password: $p}')")"
    token="$(jq -r '.access_token // empty' <<<"$login")"
    [ -n "$token" ] || { echo "[$label] login failed: $login" >&2; return 1; }
    echo "$token"
}

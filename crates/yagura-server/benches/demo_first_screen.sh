#!/bin/bash
# Starts `yagura demo` and measures the time to the first useful screen: the console's
# dashboard, logged in as the printed center analyst, listing campaigns and incidents.
BIN=${BIN:-target/release/yagura}
DIR=${DIR:-/tmp/yagura-demo}
PORT=${PORT:-18080}
OUT=${OUT:-/tmp/yagura-demo-run}
mkdir -p $OUT
[ "$KEEP" = 1 ] || rm -rf "$DIR"
echo "load before: $(cat /proc/loadavg)" > $OUT/summary
t0=$(date +%s.%N)
$BIN -q demo --dir "$DIR" --listen 127.0.0.1:$PORT > $OUT/stdout 2> $OUT/stderr &
PID=$!
cpu() { awk '{print ($14+$15)/100}' /proc/$PID/stat 2>/dev/null; }
while ! grep -q 'password' $OUT/stdout 2>/dev/null; do
  kill -0 $PID 2>/dev/null || { echo "demo died"; cat $OUT/stderr; exit 1; }
  sleep 0.2
done
t_ready=$(date +%s.%N); cpu_ready=$(cpu)
sleep 0.3
AN_PW=$(grep 'center analyst' $OUT/stdout | sed 's/.*password //')
OFF_LINE=$(grep 'security officer' $OUT/stdout)
OFF_USER=$(echo "$OFF_LINE" | sed 's/.*user \([^ ]*\) .*/\1/')
OFF_PW=$(echo "$OFF_LINE" | sed 's/.*password //')
login() { # user pw jar
  rm -f $3
  page=$(curl -s -c $3 -b $3 "http://127.0.0.1:$PORT/console/login?lang=en")
  tok=$(echo "$page" | grep -o 'name="login_csrf" value="[^"]*"' | sed 's/.*value="//;s/"//')
  curl -s -o /dev/null -w '%{http_code}' -c $3 -b $3 --data-urlencode "login_csrf=$tok" --data-urlencode "username=$1" --data-urlencode "password=$2" "http://127.0.0.1:$PORT/console/login"
}
code=$(login analyst "$AN_PW" $OUT/an.jar)
curl -s -b $OUT/an.jar "http://127.0.0.1:$PORT/console/?lang=en" > $OUT/dash-analyst.html
t_dash=$(date +%s.%N); cpu_dash=$(cpu)
{
echo "login analyst: HTTP $code"
echo "ready line after $(echo "$t_ready - $t0" | bc) s wall, demo CPU $cpu_ready s"
echo "dashboard after $(echo "$t_dash - $t0" | bc) s wall, demo CPU $cpu_dash s"
echo "load at dashboard: $(cat /proc/loadavg)"
echo "analyst dashboard: campaigns $(grep -o 'data-campaign=' $OUT/dash-analyst.html | wc -l), incidents listed $(grep -o 'href="/console/incidents/' $OUT/dash-analyst.html | wc -l)"
grep -o 'id="campaigns"><h2>[^<]*' $OUT/dash-analyst.html
grep -o 'id="open-incidents"><h2>[^<]*' $OUT/dash-analyst.html
code=$(login "$OFF_USER" "$OFF_PW" $OUT/off.jar)
echo "login officer $OFF_USER: HTTP $code"
curl -s -b $OUT/off.jar "http://127.0.0.1:$PORT/console/alerts?lang=en" > $OUT/alerts-officer.html
curl -s -b $OUT/off.jar "http://127.0.0.1:$PORT/console/?lang=en" > $OUT/dash-officer.html
echo "officer whoami: $(grep -o 'id="whoami"[^>]*' $OUT/dash-officer.html)"
echo "orgs in officer's alert list: $(grep -o '<td>[a-z0-9-]*</td>' $OUT/alerts-officer.html | sort | uniq -c | tr '\n' ' ')"
echo "orgs in analyst's alert list: $(curl -s -b $OUT/an.jar "http://127.0.0.1:$PORT/console/alerts?lang=en" | grep -o '<td>[a-z0-9-]*</td>' | sort | uniq -c | tr '\n' ' ')"
} >> $OUT/summary
echo $PID > $OUT/pid
cat $OUT/summary

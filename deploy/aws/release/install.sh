#!/bin/bash
# Installs this Coffee Radar release on a Debian 12 instance of the AWS deployment and starts
# it. Run as root by the launch template's user data, from the unpacked release, after it has
# written /etc/coffee-radar/coffee-radar.env and /etc/coffee-radar/aws.env. Idempotent.
#
#   bin/        coffee-radar, fetch-secrets, lifecycle-watch, run-export  -> /opt/coffee-radar/bin
#   systemd/    the units                                                  -> /etc/systemd/system
#   config/     journald, rsyslog, logrotate and CloudWatch agent settings
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=/dev/null
. /etc/coffee-radar/aws.env
export AWS_DEFAULT_REGION="$REGION" DEBIAN_FRONTEND=noninteractive
apt_install() { apt-get -o DPkg::Lock::Timeout=300 install -y -q "$@"; }
download() { curl -fsS --retry 5 --retry-delay 2 -o "$1" "$2"; }

(cd "$here" && sha256sum --quiet -c SHA256SUMS)

echo "== service user and files"
id coffee-radar >/dev/null 2>&1 ||
    useradd --system --home-dir /var/lib/coffee-radar --no-create-home --shell /usr/sbin/nologin coffee-radar
install -d -m 0755 /opt/coffee-radar/bin /opt/coffee-radar/docs /var/log/coffee-radar
install -m 0755 "$here"/bin/* /opt/coffee-radar/bin/
install -m 0644 "$here"/docs/* /opt/coffee-radar/docs/
install -m 0644 "$here/VERSION" /opt/coffee-radar/VERSION

echo "== RDS certificate authorities (DATABASE_URL uses ssl-mode=VERIFY_IDENTITY)"
download /opt/coffee-radar/rds-ca.pem.new "https://truststore.pki.rds.amazonaws.com/$REGION/$REGION-bundle.pem"
grep -q 'BEGIN CERTIFICATE' /opt/coffee-radar/rds-ca.pem.new
chmod 0644 /opt/coffee-radar/rds-ca.pem.new
mv -f /opt/coffee-radar/rds-ca.pem.new /opt/coffee-radar/rds-ca.pem

echo "== agents: SSM (Session Manager, instead of SSH) and CloudWatch (logs, mem_used_percent)"
if ! dpkg -s amazon-ssm-agent >/dev/null 2>&1; then
    download /tmp/amazon-ssm-agent.deb \
        "https://s3.$REGION.amazonaws.com/amazon-ssm-$REGION/latest/debian_amd64/amazon-ssm-agent.deb"
    apt_install /tmp/amazon-ssm-agent.deb
fi
systemctl enable --now amazon-ssm-agent
if ! dpkg -s amazon-cloudwatch-agent >/dev/null 2>&1; then
    download /tmp/amazon-cloudwatch-agent.deb \
        "https://amazoncloudwatch-agent-$REGION.s3.$REGION.amazonaws.com/debian/amd64/latest/amazon-cloudwatch-agent.deb"
    apt_install /tmp/amazon-cloudwatch-agent.deb
fi

echo "== logs: journald -> rsyslog -> /var/log/coffee-radar/app.log -> CloudWatch Logs"
install -d /etc/systemd/journald.conf.d
install -m 0644 "$here/config/journald.conf" /etc/systemd/journald.conf.d/coffee-radar.conf
install -m 0644 "$here/config/rsyslog.conf" /etc/rsyslog.d/30-coffee-radar.conf
install -m 0644 "$here/config/logrotate.conf" /etc/logrotate.d/coffee-radar
systemctl restart systemd-journald rsyslog
agent=/opt/aws/amazon-cloudwatch-agent
sed -e "s|@APP_LOG_GROUP@|$APP_LOG_GROUP|" -e "s|@SYSTEM_LOG_GROUP@|$SYSTEM_LOG_GROUP|" \
    "$here/config/cloudwatch-agent.json" >"$agent/etc/coffee-radar.json"
# The agent runs as cwagent (created by its package) and reads the log files (root:adm 0640).
if id cwagent >/dev/null 2>&1; then usermod -a -G adm cwagent; fi
"$agent/bin/amazon-cloudwatch-agent-ctl" -a fetch-config -m ec2 -s -c "file:$agent/etc/coffee-radar.json"

echo "== no SSH: Session Manager only"
systemctl disable --now ssh.service 2>/dev/null || true

echo "== units"
install -m 0644 "$here"/systemd/* /etc/systemd/system/
systemctl daemon-reload
systemctl enable coffee-radar.service coffee-radar-lifecycle.service
systemctl restart coffee-radar.service coffee-radar-lifecycle.service
echo "Coffee Radar $(cat /opt/coffee-radar/VERSION) installed."

#!/usr/bin/env bash
# Deploys Coffee Radar on AWS in one command: builds the release, creates or updates the
# CloudFormation stack (deploy/aws/coffee-radar.yaml), uploads the release and the static
# files to the stack's bucket, rolls the servers onto the release with an instance refresh,
# and deploys the export schedule (deploy/aws/export.yaml, stack STACK-export). See docs/aws.md.
#
#   deploy/aws/deploy.sh --stack coffee-radar --certificate-arn arn:aws:acm:...   (first time)
#   deploy/aws/deploy.sh --stack coffee-radar                                     (new release)
#
# Options (each maps to a template parameter; on updates, what is not given keeps its value):
#   --stack NAME                 stack name (required)
#   --region REGION              default: $AWS_REGION, else us-east-1
#   --azs AZ_A,AZ_B              default: REGIONa,REGIONb
#   --certificate-arn ARN        CertificateArn: ACM certificate of the load balancer (first time)
#   --domain NAME                DomainName: the shop's public name (optional)
#   --hosted-zone-id ID          HostedZoneId: Route 53 zone of the names (optional)
#   --origin-domain NAME         OriginDomainName (default origin.DOMAIN)
#   --cloudfront-certificate-arn ARN   CloudFrontCertificateArn (us-east-1; default the same)
#   --alarm-email ADDRESS        AlarmEmail
#   --param KEY=VALUE            any other parameter (repeatable), e.g. --param MaxInstances=8
#   --export-schedule EXPR       when the sales export runs (default cron(15 3 * * ? *), UTC)
#   --binary PATH                deploy this binary instead of building one
#   --dry-run                    print the AWS commands instead of running them
#
# Needs: the AWS CLI with credentials for the account, and (unless --binary) the Rust
# toolchain on Debian 12.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
stack='' azs='' binary='' dry_run='' export_schedule=''
region=${AWS_REGION:-${AWS_DEFAULT_REGION:-us-east-1}}
params=()

usage() { sed -n '2,27p' "$0" | sed 's/^# \{0,1\}//' >&2; exit "${1:-2}"; }
need() { [ -n "${2:-}" ] || { echo "$1 needs a value" >&2; exit 2; }; }
while (($#)); do
    case $1 in
        --stack) need "$1" "${2:-}"; stack=$2 ;;
        --region) need "$1" "${2:-}"; region=$2 ;;
        --azs) need "$1" "${2:-}"; azs=$2 ;;
        --certificate-arn) need "$1" "${2:-}"; params+=("CertificateArn=$2") ;;
        --domain) need "$1" "${2:-}"; params+=("DomainName=$2") ;;
        --hosted-zone-id) need "$1" "${2:-}"; params+=("HostedZoneId=$2") ;;
        --origin-domain) need "$1" "${2:-}"; params+=("OriginDomainName=$2") ;;
        --cloudfront-certificate-arn) need "$1" "${2:-}"; params+=("CloudFrontCertificateArn=$2") ;;
        --alarm-email) need "$1" "${2:-}"; params+=("AlarmEmail=$2") ;;
        --param) need "$1" "${2:-}"; params+=("$2") ;;
        --binary) need "$1" "${2:-}"; binary=$2 ;;
        --export-schedule) need "$1" "${2:-}"; export_schedule=$2 ;;
        --dry-run) dry_run=1; shift; continue ;;
        -h | --help) usage 0 ;;
        *) echo "unknown argument: $1" >&2; usage ;;
    esac
    shift 2
done
[ -n "$stack" ] || { echo "--stack is required" >&2; usage; }
export AWS_REGION=$region AWS_DEFAULT_REGION=$region
if [ -n "$azs" ]; then
    params+=("AvailabilityZoneA=${azs%%,*}" "AvailabilityZoneB=${azs#*,}")
elif [ -n "$dry_run" ] || ! aws cloudformation describe-stacks --stack-name "$stack" >/dev/null 2>&1; then
    params+=("AvailabilityZoneA=${region}a" "AvailabilityZoneB=${region}b")
fi

step() { printf '\n==> %s\n' "$*" >&2; }
run() {
    if [ -n "$dry_run" ]; then
        printf '+' >&2
        printf ' %q' "$@" >&2
        printf '\n' >&2
    else
        "$@"
    fi
}
stack_status() {
    [ -n "$dry_run" ] && { echo NONE; return; }
    aws cloudformation describe-stacks --stack-name "$stack" \
        --query 'Stacks[0].StackStatus' --output text 2>/dev/null || echo NONE
}
output() {
    [ -n "$dry_run" ] && { echo "DRY-RUN-$1"; return; }
    aws cloudformation describe-stacks --stack-name "$stack" \
        --query "Stacks[0].Outputs[?OutputKey=='$1'].OutputValue" --output text
}
cfn_deploy() {
    run aws cloudformation deploy --stack-name "$stack" \
        --template-file "$here/coffee-radar.yaml" \
        --capabilities CAPABILITY_NAMED_IAM \
        --no-fail-on-empty-changeset \
        --parameter-overrides "$@"
}

status=$(stack_status)
case $status in
    NONE) ;;
    ROLLBACK_COMPLETE | ROLLBACK_FAILED | DELETE_FAILED)
        echo "Stack $stack is $status: delete it (docs/aws.md, Tearing down) and run again." >&2
        exit 1 ;;
    *_IN_PROGRESS)
        echo "Stack $stack is $status: wait for it to finish and run again." >&2
        exit 1 ;;
esac

if [ "$status" = NONE ]; then
    if [[ " ${params[*]} " != *" CertificateArn="* ]]; then
        echo "A new stack needs --certificate-arn (an ACM certificate in $region for the origin name)." >&2
        exit 2
    fi
    if [ "$region" != us-east-1 ] && [[ " ${params[*]} " == *" DomainName="* ]] &&
        [[ " ${params[*]} " != *" CloudFrontCertificateArn="* ]]; then
        echo "CloudFront needs a certificate in us-east-1 for the domain: add --cloudfront-certificate-arn." >&2
        exit 2
    fi
fi

# The rolling-upgrade rule (docs/upgrades.md): one new instance at a time, launched and ready
# before an old one drains (never under 100 % of the capacity healthy), back to the previous
# launch template when the 5xx or unhealthy-host alarm goes off. The launch hook makes an
# instance healthy only once its /readyz answers, so the warm-up is the health checks' own.
refresh_preferences() {
    local desired=$1 alarms=$2
    # A batch of one: room above 100 % for exactly one more instance.
    local max=$((100 + (100 + desired - 1) / desired))
    ((max > 200)) && max=200
    printf '{"MinHealthyPercentage": 100, "MaxHealthyPercentage": %s, "InstanceWarmup": 20, "SkipMatching": true, "AutoRollback": true, "AlarmSpecification": {"Alarms": ["%s"]}}' \
        "$max" "${alarms//,/\", \"}"
}
group_capacity() {
    [ -n "$dry_run" ] && { echo 2; return; }
    aws autoscaling describe-auto-scaling-groups --auto-scaling-group-names "$1" \
        --query 'AutoScalingGroups[0].DesiredCapacity' --output text
}
wait_for_refresh() {
    [ -n "$dry_run" ] && return 0
    local status
    while :; do
        status=$(aws autoscaling describe-instance-refreshes --auto-scaling-group-name "$1" --instance-refresh-ids "$2" \
            --query 'InstanceRefreshes[0].Status' --output text)
        case $status in
            Successful) return 0 ;;
            Failed | Cancelled | RollbackSuccessful | RollbackFailed | Baseline*)
                echo "The instance refresh ended $status (aws autoscaling describe-instance-refreshes)." >&2
                return 1 ;;
        esac
        sleep 30
    done
}

step "1/6 Building the release"
build_args=()
[ -n "$binary" ] && build_args=(--binary "$binary")
artifact_key=$("$here/build-release.sh" "${build_args[@]}")
artifact=${COFFEE_RADAR_RELEASE_DIR:-$root/target/aws-release}/${artifact_key#releases/}
[ -n "$binary" ] || binary=$root/target/release/coffee-radar

if [ "$status" = NONE ]; then
    step "2/6 Creating stack $stack in $region without servers (network, database, bucket, CDN; 20-40 minutes)"
    cfn_deploy "${params[@]}" ReleaseKey=
else
    step "2/6 Stack $stack exists ($status)"
fi
bucket=$(output AssetBucketName)

step "3/6 Uploading the release to s3://$bucket/$artifact_key"
run aws s3 cp --only-show-errors "$artifact" "s3://$bucket/$artifact_key"

step "4/6 Publishing the static files to s3://$bucket/static/"
# The binary signs its own S3 requests: give it the CLI's credentials (profiles, SSO, ...).
if [ -z "${AWS_ACCESS_KEY_ID:-}" ] && [ -z "$dry_run" ]; then
    if creds=$(aws configure export-credentials --format env 2>/dev/null); then
        eval "$creds"
    else
        echo "Export AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN), or use AWS CLI v2." >&2
        exit 1
    fi
fi
run "$binary" assets publish --to "s3://$bucket"

step "5/6 Rolling the servers onto $artifact_key (instance refresh: one at a time, each ready before an old one drains)"
cfn_deploy "${params[@]}" "ReleaseKey=$artifact_key"
group=$(output AutoScalingGroupName)
preferences=$(refresh_preferences "$(group_capacity "$group")" "$(output RollbackAlarms)")
if [ -n "$dry_run" ]; then
    run aws autoscaling start-instance-refresh --auto-scaling-group-name "$group" --preferences "$preferences"
else
    refresh=$(aws autoscaling start-instance-refresh --auto-scaling-group-name "$group" \
        --preferences "$preferences" --query InstanceRefreshId --output text)
    wait_for_refresh "$group" "$refresh"
fi
step "6/6 The sales export on schedule (stack $stack-export)"
export_params=("BucketName=$bucket" "InstanceRoleArn=$(output AppRoleArn)" "AutoScalingGroupName=$group")
[ -n "$export_schedule" ] && export_params+=("ScheduleExpression=$export_schedule")
run aws cloudformation deploy --stack-name "$stack-export" --template-file "$here/export.yaml" \
    --capabilities CAPABILITY_IAM --no-fail-on-empty-changeset --parameter-overrides "${export_params[@]}"

step "Done"
[ -n "$dry_run" ] || aws cloudformation describe-stacks --stack-name "$stack" \
    --query 'Stacks[0].Outputs[].[OutputKey,OutputValue]' --output table

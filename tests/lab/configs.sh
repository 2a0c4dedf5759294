#!/usr/bin/env bash
# Writes the lab's Postfix and Dovecot configs into WORK_DIR (called by
# record.sh, which exports the LAB_* addresses). Nothing under /etc is read
# or written: Postfix runs with `postfix -c WORK_DIR/postfix`, Dovecot with
# `dovecot -c WORK_DIR/dovecot*.conf`.
#
# Server 198.51.100.25 / 2001:db8:5::25 offers STARTTLS everywhere:
#   25 (STARTTLS), 587 (STARTTLS, SASL through Dovecot, AUTH also before TLS),
#   465 (implicit TLS), 143 (STARTTLS), 993, 110 (STLS), 995.
# Server 198.51.100.26 is the same software without TLS: 25, 587 (AUTH), 143, 110.
set -euo pipefail
W="$1"

mkdir -p "$W/postfix" "$W/spool" "$W/postfix-data"
chown postfix:postfix "$W/postfix-data"
cat >"$W/postfix/main.cf" <<EOF
compatibility_level = 3.6
queue_directory = $W/spool
data_directory = $W/postfix-data
maillog_file = $W/postfix.log
maillog_file_prefixes = $W
myhostname = $LAB_HOST
mydomain = lab.example
myorigin = \$mydomain
mydestination = \$myhostname, lab.example
inet_interfaces = all
inet_protocols = all
mynetworks = 127.0.0.0/8
# Mail for the lab's users is accepted and discarded.
local_transport = discard:
local_recipient_maps =
alias_maps =
alias_database =
biff = no
smtpd_banner = \$myhostname ESMTP Postfix
smtpd_tls_cert_file = $W/cert.pem
smtpd_tls_key_file = $W/key.pem
smtpd_tls_security_level = may
smtpd_tls_loglevel = 1
smtpd_sasl_type = dovecot
smtpd_sasl_path = private/auth
smtpd_relay_restrictions = permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination
smtpd_recipient_restrictions =
smtpd_delay_reject = yes
# The lab is local: no DNS lookups of clients.
smtpd_peername_lookup = no
EOF
S4=$LAB_SRV4 P4=$LAB_SRV4_PLAIN S6="[$LAB_SRV6]"
SUB="-o smtpd_sasl_auth_enable=yes -o smtpd_tls_auth_only=no -o smtpd_client_restrictions=permit_sasl_authenticated,reject"
cat >"$W/postfix/master.cf" <<EOF
$S4:smtp        inet n - n - - smtpd
$S6:smtp        inet n - n - - smtpd
$S4:submission  inet n - n - - smtpd $SUB
$S6:submission  inet n - n - - smtpd $SUB
$S4:submissions inet n - n - - smtpd -o smtpd_tls_wrappermode=yes $SUB
$P4:smtp        inet n - n - - smtpd -o smtpd_tls_security_level=none
$P4:submission  inet n - n - - smtpd -o smtpd_tls_security_level=none $SUB
pickup    unix n - n 60 1 pickup
cleanup   unix n - n - 0 cleanup
qmgr      unix n - n 300 1 qmgr
tlsmgr    unix - - n 1000? 1 tlsmgr
rewrite   unix - - n - - trivial-rewrite
bounce    unix - - n - 0 bounce
defer     unix - - n - 0 bounce
trace     unix - - n - 0 bounce
verify    unix - - n - 1 verify
flush     unix n - n 1000? 0 flush
proxymap  unix - - n - - proxymap
smtp      unix - - n - - smtp
relay     unix - - n - - smtp
showq     unix n - n - - showq
error     unix - - n - - error
retry     unix - - n - - error
discard   unix - - n - - discard
local     unix - n n - - local
lmtp      unix - - n - - lmtp
anvil     unix - - n - 1 anvil
scache    unix - - n - 1 scache
postlog   unix-dgram n - n - 1 postlogd
EOF
chmod 755 "$W/postfix"

# --- Dovecot ---------------------------------------------------------------------
dovecot_conf() { # FILE NAME LISTEN SSL
    local ssl_block listeners
    if [ "$4" = yes ]; then
        ssl_block="ssl = yes
ssl_cert = <$W/cert.pem
ssl_key = <$W/key.pem"
        listeners="service imap-login {
  inet_listener imap {
    port = 143
  }
  inet_listener imaps {
    port = 993
    ssl = yes
  }
}
service pop3-login {
  inet_listener pop3 {
    port = 110
  }
  inet_listener pop3s {
    port = 995
    ssl = yes
  }
}
service auth {
  unix_listener $W/spool/private/auth {
    mode = 0660
    user = postfix
    group = postfix
  }
}"
    else
        ssl_block="ssl = no"
        listeners="service imap-login {
  inet_listener imap {
    port = 143
  }
  inet_listener imaps {
    port = 0
  }
}
service pop3-login {
  inet_listener pop3 {
    port = 110
  }
  inet_listener pop3s {
    port = 0
  }
}"
    fi
    mkdir -p "$W/$2-run" "$W/$2-state"
    cat >"$1" <<EOF
instance_name = $2
base_dir = $W/$2-run
state_dir = $W/$2-state
log_path = $W/$2.log
protocols = imap pop3
listen = $3
$ssl_block
# The lab shows what clients do in cleartext, so the servers allow it.
disable_plaintext_auth = no
auth_mechanisms = plain login cram-md5 apop
passdb {
  driver = passwd-file
  args = scheme=PLAIN $W/users
}
userdb {
  driver = passwd-file
  args = $W/users
}
mail_location = maildir:~/Maildir
pop3_uidl_format = %08Xu%08Xv
login_greeting = Dovecot ready.
$listeners
EOF
}
mkdir -p "$W/spool/private"
chown postfix:root "$W/spool/private"
chmod 700 "$W/spool/private"
dovecot_conf "$W/dovecot.conf" dovecot "$LAB_SRV4, $LAB_SRV6" yes
dovecot_conf "$W/dovecot-plain.conf" dovecot-plain "$LAB_SRV4_PLAIN" no

import type { TransactionSql } from "postgres";
import type { Sql } from "../db/client.ts";
import type { OidcIdentity } from "./oidc.ts";

/** How an OpenID Connect sign-in found its rider, or why it found none. */
export type IdentitySignIn =
  | { ok: true; userId: string; outcome: "existing" | "linked" | "created" }
  | { ok: false; reason: "unverified_email" };

/**
 * Finds or creates the rider for a verified ID token, in one transaction.
 *
 * 1. A known (provider, subject) is that rider.
 * 2. Otherwise an account with the same email is linked, but only when the provider verified the
 *    email; an unverified email that matches an account writes nothing and reports it.
 * 3. Otherwise a new rider is created (with the email only when it is verified, so an unverified
 *    claim cannot take an address from its real owner).
 *
 * Two first sign-ins racing on the same subject or email retry and find each other's row.
 */
export async function signInWithIdentity(
  sql: Sql,
  identity: OidcIdentity,
): Promise<IdentitySignIn> {
  for (let attempt = 0;; attempt++) {
    try {
      return await sql.begin((tx) => attemptSignIn(tx, identity));
    } catch (err) {
      // 23505: another first sign-in created the row meanwhile; 40P01: belt and braces.
      const code = (err as { code?: string })?.code;
      if ((code !== "23505" && code !== "40P01") || attempt >= 2) throw err;
    }
  }
}

async function attemptSignIn(sql: TransactionSql, identity: OidcIdentity): Promise<IdentitySignIn> {
  const { provider, subject } = identity;
  // Locks are always taken in the same order, the rider's row before the identity's, so that
  // concurrent sign-ins of one subject wait for each other instead of deadlocking.
  const [known] = await sql<{ userId: string }[]>`
    select user_id from user_identities where provider = ${provider} and subject = ${subject}
  `;
  if (known) {
    await sql`update users set last_login_at = now() where id = ${known.userId}`;
    const email = identity.email ?? null;
    await sql`
      update user_identities set last_login_at = now(), email = coalesce(${email}, email)
      where provider = ${provider} and subject = ${subject}
    `;
    return { ok: true, userId: known.userId, outcome: "existing" };
  }

  if (identity.email !== undefined) {
    const [account] = await sql<{ id: string }[]>`
      select id from users where lower(email) = lower(${identity.email}) for update
    `;
    if (account && !identity.emailVerified) return { ok: false, reason: "unverified_email" };
    if (account) {
      await insertIdentity(sql, account.id, identity);
      await sql`update users set last_login_at = now() where id = ${account.id}`;
      return { ok: true, userId: account.id, outcome: "linked" };
    }
  }

  const [user] = await sql<{ id: string }[]>`
    insert into users (email, provider, provider_id, display_name, last_login_at)
    values (${identity.emailVerified ? identity.email! : null}, ${provider}, ${subject},
      ${identity.name ?? null}, now())
    returning id
  `;
  await insertIdentity(sql, user.id, identity);
  return { ok: true, userId: user.id, outcome: "created" };
}

async function insertIdentity(
  sql: TransactionSql,
  userId: string,
  identity: OidcIdentity,
): Promise<void> {
  await sql`
    insert into user_identities (user_id, provider, subject, email, last_login_at)
    values (${userId}, ${identity.provider}, ${identity.subject}, ${identity.email ?? null}, now())
  `;
}

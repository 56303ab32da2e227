import type { Sql } from "../db/client.ts";

/** A user as the API shows it (never the password hash). */
export type User = {
  id: string;
  email: string | null;
  displayName: string | null;
  avatarUrl: string | null;
  weightKg: number | null;
  ftpWatts: number | null;
  maxHr: number | null;
  createdAt: Date;
  updatedAt: Date;
  lastLoginAt: Date | null;
};

/** Fields a rider may change on their profile; null clears a field. */
export type ProfilePatch = Partial<{
  displayName: string | null;
  avatarUrl: string | null;
  weightKg: number | null;
  ftpWatts: number | null;
  maxHr: number | null;
}>;

/** Inserts a password account; a duplicate email raises SQLSTATE 23505. */
export async function insertUser(
  sql: Sql,
  user: { email: string; passwordHash: string; displayName: string | null },
): Promise<User> {
  const [row] = await sql<User[]>`
    insert into users (email, password_hash, display_name, last_login_at)
    values (${user.email}, ${user.passwordHash}, ${user.displayName}, now())
    returning id, email, display_name, avatar_url, weight_kg, ftp_watts, max_hr,
      created_at, updated_at, last_login_at
  `;
  return row;
}

/** Finds the id and password hash for an email, ignoring case. */
export async function findLogin(
  sql: Sql,
  email: string,
): Promise<{ id: string; passwordHash: string | null } | undefined> {
  const [row] = await sql<{ id: string; passwordHash: string | null }[]>`
    select id, password_hash from users where lower(email) = lower(${email})
  `;
  return row;
}

/** Records a successful sign-in. */
export async function touchLogin(sql: Sql, userId: string): Promise<void> {
  await sql`update users set last_login_at = now() where id = ${userId}`;
}

/** Reads one user by id. */
export async function getUser(sql: Sql, userId: string): Promise<User | undefined> {
  const [row] = await sql<User[]>`
    select id, email, display_name, avatar_url, weight_kg, ftp_watts, max_hr,
      created_at, updated_at, last_login_at
    from users where id = ${userId}
  `;
  return row;
}

const profileColumns = {
  displayName: "display_name",
  avatarUrl: "avatar_url",
  weightKg: "weight_kg",
  ftpWatts: "ftp_watts",
  maxHr: "max_hr",
} as const;

/** Applies a profile patch and returns the updated user. */
export async function updateProfile(
  sql: Sql,
  userId: string,
  patch: ProfilePatch,
): Promise<User | undefined> {
  const keys = (Object.keys(profileColumns) as (keyof ProfilePatch)[]).filter((key) =>
    patch[key] !== undefined
  );
  if (keys.length === 0) return getUser(sql, userId);
  const values = Object.fromEntries(keys.map((key) => [key, patch[key]]));
  const [row] = await sql<User[]>`
    update users set ${sql(values, ...keys)}, updated_at = now()
    where id = ${userId}
    returning id, email, display_name, avatar_url, weight_kg, ftp_watts, max_hr,
      created_at, updated_at, last_login_at
  `;
  return row;
}

import type { Child } from "hono/jsx";
import { raw } from "hono/html";
import type { AssetName, Assets } from "./assets.ts";

/** What every page's layout needs: the assets, the page's data for its script, the nav state. */
export type LayoutProps = {
  assets: Assets;
  title: string;
  /** The nav entry to mark as current; none on the sign-in pages. */
  current?: string;
  signedIn: boolean;
  /** The session's CSRF token, for the sign-out form and the scripts' /api calls. */
  csrf?: string;
  scripts?: AssetName[];
  styles?: AssetName[];
  /** Read by the page's script from `<script type="application/json" id="page-data">`. */
  data?: Record<string, unknown>;
  children?: Child;
};

const nav = [
  ["/rides", "History"],
  ["/calendar", "Calendar"],
  ["/curve", "Power curve"],
  ["/fitness", "Fitness"],
  ["/upload", "Upload"],
  ["/profile", "Profile"],
] as const;

/** JSON for an inline data block: `<` escaped, so no value can close the script element. */
function inlineJson(value: unknown): string {
  return JSON.stringify(value).replaceAll("<", "\\u003c");
}

/** The pages' common frame: head with hashed assets, the nav, the sign-out form and main. */
export function Layout(props: LayoutProps) {
  const { assets } = props;
  const styles: AssetName[] = [...(props.styles ?? []), "app.css"];
  const scripts: AssetName[] = ["common.js", ...(props.scripts ?? [])];
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>{`${props.title} · Bike Power Tracker`}</title>
        {styles.map((name) => <link key={name} rel="stylesheet" href={assets.byName[name].url} />)}
      </head>
      <body>
        <a class="skip" href="#main">Skip to content</a>
        <header class="top">
          <a class="brand" href="/">Bike Power Tracker</a>
          {props.signedIn && (
            <nav aria-label="Pages">
              {nav.map(([href, label]) => (
                <a
                  key={href}
                  href={href}
                  aria-current={props.current === href ? "page" : undefined}
                >
                  {label}
                </a>
              ))}
              <form method="post" action="/signout" class="signout">
                <input type="hidden" name="_csrf" value={props.csrf} />
                <button type="submit">Sign out</button>
              </form>
            </nav>
          )}
        </header>
        <main id="main">
          <h1>{props.title}</h1>
          {props.children}
        </main>
        <script type="application/json" id="page-data">
          {raw(inlineJson({ csrf: props.csrf, ...props.data }))}
        </script>
        {scripts.map((name) => <script key={name} src={assets.byName[name].url} defer></script>)}
      </body>
    </html>
  );
}

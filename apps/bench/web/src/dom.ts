/** Returns the page's element with `id`; throws when the HTML lacks it, which is a build error. */
export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const element = document.getElementById(id);
  if (element === null) throw new Error(`the page has no element with id "${id}"`);
  return element as T;
}

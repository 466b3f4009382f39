/** A problem in words under what it is about (announced to screen readers), or nothing. */
export function ErrorLine({ text }: { text: string | null | undefined }) {
  return text ? (
    <p class="error" role="alert">
      {text}
    </p>
  ) : null;
}

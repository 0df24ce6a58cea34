// POST /api/payments/adyen/webhook: Adyen's notifications, each item verified by its HMAC and applied once; answers
// `[accepted]` once every verified item is stored (401 when none verifies).
import { httpHandler } from '#shared/http/handler.ts';
import { plainText } from '#shared/http/responses.ts';
import { acceptAdyenNotification } from '#shared/payments/provider-routes.ts';
import { adyenNotificationBody } from '#shared/schemas.ts';

export const handler = httpHandler({ body: adyenNotificationBody }, async ({ body }) => {
  await acceptAdyenNotification(
    body.notificationItems.map((entry) => entry.NotificationRequestItem),
    new Date(),
  );
  return plainText('[accepted]');
});
